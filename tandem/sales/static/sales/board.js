// Kanban board: drag a deal card to another stage column; POSTs the move with the CSRF token.
// On refusal (closed deal, lost stage needing a reason) the page reloads to show the true state.
(function () {
  "use strict";
  var board = document.getElementById("kanban");
  if (!board) { return; }
  var csrf = board.getAttribute("data-csrf");
  var dragged = null;
  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest(".kanban-card");
    if (!card || card.getAttribute("draggable") !== "true") { return; }
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-deal"));
  });
  board.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    board.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });
  board.addEventListener("dragover", function (event) {
    var column = event.target.closest(".kanban-col");
    if (!column || !dragged) { return; }
    event.preventDefault();
    column.classList.add("drop-target");
  });
  board.addEventListener("dragleave", function (event) {
    var column = event.target.closest(".kanban-col");
    if (column && !column.contains(event.relatedTarget)) { column.classList.remove("drop-target"); }
  });
  board.addEventListener("drop", function (event) {
    var column = event.target.closest(".kanban-col");
    if (!column || !dragged) { return; }
    event.preventDefault();
    column.classList.remove("drop-target");
    var card = dragged;
    var from = card.parentElement;
    column.querySelector(".kanban-cards").appendChild(card);
    var body = new URLSearchParams();
    body.set("stage", column.getAttribute("data-stage"));
    fetch(card.getAttribute("data-move"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
      body: body
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok || !data.ok) { throw new Error(data.message || response.status); }
      });
    }).catch(function (error) {
      from.appendChild(card);
      window.alert(board.getAttribute("data-error") + " " + error.message);
    });
  });
})();
