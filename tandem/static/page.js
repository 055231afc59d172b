// Small page behaviours written as data attributes, so no page needs inline script (the
// Content Security Policy allows scripts only from Tandem's own files):
// - a button with data-confirm asks that question before its form is submitted;
// - a link with data-keep-query="<base address>" follows the current page's query string
//   (filters chosen after the page loaded, through htmx, included).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    var confirmButton = target.closest("[data-confirm]");
    if (confirmButton && !window.confirm(confirmButton.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    var link = target.closest("a[data-keep-query]");
    if (link) link.href = link.dataset.keepQuery + window.location.search;
  });
})();
