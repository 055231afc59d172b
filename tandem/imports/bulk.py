"""The set-based import of one chunk: plan every row in memory, then write with a few statements.

`prepare` does the query-free checks of a chunk's rows (in the read-ahead thread); `plan_chunk`
does for the chunk what `services._import_one` does row by row, with one query per chunk for
each look-up (contacts by email, accounts by domain and by name, what the actor may change);
`Plan.write` stores it through `crm.accounts_bulk_create`/`contacts_bulk_create`/
`..._bulk_update` (COPY on PostgreSQL), then one insert of the chunk's `ImportRow`s.

Invariants:
- the outcome is the one the row-by-row path gives for the same rows in the same order: rows
  are planned in file order against the records found in the database plus those planned for
  earlier rows of the chunk (a repeated email updates the contact an earlier row created, a
  repeated domain or name reuses its account);
- a row is checked with the crm rules (`crm.contact_check`/`account_check`: same messages)
  before anything of it is planned: a rejected row leaves nothing (not even its new account);
- a planned record the actor might not see or change (a restricted scope, e.g. a rep) cannot be
  judged in memory: `NeedsRowPath` is raised and the caller runs the chunk row by row;
- a new contact starts in the file's stage; an existing contact's stage is changed by the leads
  app's lifecycle service (`lifecycle_correct`: history and timeline), in the rows' order between
  the bulk updates of the rows before and after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

from tandem.core.access import scoped
from tandem.core.audit import Actor
from tandem.core.bulk import insert_rows
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.crm import services as crm
from tandem.crm.models import (
    Account,
    AccountDomain,
    AttributeTarget,
    Contact,
    ContactEmail,
    LifecycleStage,
)
from tandem.imports.models import ImportJob, ImportKind, ImportRow
from tandem.leads import services as leads

_CONTACT_STATE = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "lifecycle_stage",
    "account_id",
    "owner_id",
)


_CONTACT_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(("first_name", "last_name", "email", "phone", "title"), ""),
    "lifecycle_stage": "lead",
    "account_id": None,
    "owner_id": None,
}


def check_stage(stage: str) -> None:
    """The error `contact_create` gives for an unknown stage, for a row that changes one."""
    if stage not in LifecycleStage.values:
        stages = ", ".join(LifecycleStage.values)
        raise InvalidInput({"lifecycle_stage": [f"{stage!r} is not one of {stages}"]})


def stage_import(
    actor: Actor, job: ImportJob, contact: Contact, stage: str, *, undo: bool = False
) -> None:
    """Put an existing contact in the stage a file (or the undo of an import) states: through
    the lifecycle service, so the stage history and the timeline record it."""
    name = {"file": job.original_name[:400]}
    reason = _("Undo of the import of %(file)s") if undo else _("Import of %(file)s")
    leads.lifecycle_correct(actor=actor, contact=contact, stage=stage, reason=reason % name)


class NeedsRowPath(Exception):
    """The chunk must run row by row (a planned record under a restricted scope)."""


@dataclass(eq=False)
class _New:
    """A record planned by this chunk; `id` is known once it is written."""

    values: dict[str, Any]
    id: int | None = None
    state: dict[str, Any] = field(default_factory=dict)  # a contact's values as planned so far
    account: Account | None = None  # an unsaved instance, for planning updates of it


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    errors: list[list[Any]] = field(default_factory=list)


Ref = int | _New


def _id(ref: Any) -> Any:
    return ref.id if isinstance(ref, _New) else ref


def _unrestricted(qs: QuerySet[Any]) -> bool:
    return not qs.query.is_empty() and not qs.query.where


@dataclass(frozen=True)
class Rules:
    """What checking a row needs from the database or the active language: read once per run
    in the caller's thread, so that `prepare` runs anywhere (the read-ahead thread)."""

    kind: str
    labels: dict[str, str]
    contact_custom: dict[str, Any] | InvalidInput
    account_custom: dict[str, Any] | InvalidInput

    @classmethod
    def load(cls, job: ImportJob) -> Rules:
        from tandem.imports import services as svc

        return cls(
            kind=job.kind,
            labels=svc.stage_labels(),
            contact_custom=crm.custom_defaults(AttributeTarget.CONTACT),
            account_custom=crm.custom_defaults(AttributeTarget.ACCOUNT),
        )


@dataclass(slots=True)
class Prepared:
    """One row after the checks that need no query: its website's domain (or the error),
    the account name, and for contacts the values and what `contact_check` says of a new one."""

    number: int
    values: dict[str, str]
    domain: str = ""
    name: str = ""
    website_error: InvalidInput | None = None
    data: dict[str, Any] | None = None
    created: dict[str, Any] | InvalidInput | None = None


def prepare(rules: Rules, chunk: list[tuple[int, dict[str, str]]]) -> list[Prepared]:
    """The query-free part of planning a chunk (pure: safe in another thread)."""
    from tandem.imports import services as svc

    contacts = rules.kind != ImportKind.ACCOUNTS
    out: list[Prepared] = []
    domains: dict[str, str | InvalidInput] = {}  # rows of one company repeat its website
    for number, values in chunk:
        row = Prepared(number, values)
        website = values.get("website")
        if website:
            domain = domains.get(website)
            if domain is None:
                try:
                    domain = svc._domain(website)
                except InvalidInput as exc:
                    domain = exc
                domains[website] = domain
            if isinstance(domain, InvalidInput):
                row.website_error = domain
            else:
                row.domain = domain
        row.name = values.get("account_name", "") or row.domain
        if contacts:
            row.data = data = svc._contact_data(values, rules.labels)
            try:
                row.created = crm.contact_check(data, creating=True, custom=rules.contact_custom)
            except InvalidInput as exc:
                row.created = exc
        out.append(row)
    return out


def _pairs(model: type[Model], key: str, value: str, keys: set[str]) -> list[tuple[str, int]]:
    """(key, value) of the rows whose `key` is in `keys`, by `value`: on PostgreSQL one
    `= ANY(array)` query (a chunk's thousands of keys as one parameter: one newline-separated
    text split by the server, cheaper to send than a list, unless a key holds a newline),
    else `__in`."""
    if connection.vendor != "postgresql":
        return list(
            model._default_manager.filter(**{f"{key}__in": keys})
            .order_by(value)
            .values_list(key, value)
        )
    table = connection.ops.quote_name(str(model._meta.db_table))
    k = connection.ops.quote_name(str(model._meta.get_field(key).column))  # type: ignore[union-attr]
    v = connection.ops.quote_name(str(model._meta.get_field(value).column))  # type: ignore[union-attr]
    joined = "\n".join(keys)
    param: str | list[str] = joined
    array = "string_to_array(%s, E'\\n')"
    if joined.count("\n") != len(keys) - 1:
        array, param = "%s", list(keys)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {k}, {v} FROM {table} WHERE {k} = ANY({array}) ORDER BY {v}", [param]
        )
        return [(row[0], row[1]) for row in cursor.fetchall()]


class Plan:
    def __init__(
        self, actor: User, job: ImportJob, owner_ids: dict[str, Any], rules: Rules
    ) -> None:
        from tandem.imports import services as svc

        self.svc = svc
        self.actor = actor
        self.job = job
        self.accounts_kind = job.kind == ImportKind.ACCOUNTS
        self.owner_ids = owner_ids
        self.account_custom = rules.account_custom
        self.open_accounts = _unrestricted(scoped(actor, Account))
        self.open_contacts = _unrestricted(scoped(actor, Contact, "change"))
        self.open_account_changes = _unrestricted(scoped(actor, Account, "change"))
        self.by_domain: dict[str, Ref] = {}
        self.by_name: dict[str, Ref] = {}
        self.by_email: dict[str, Ref] = {}
        self.suppressed: set[str] = set()  # addresses of erased people, refused per row
        self.accounts: dict[int, Account] = {}
        self.changeable_accounts: set[int] = set()
        self.contacts: dict[int, dict[str, Any]] = {}
        self.changeable_contacts: set[int] = set()
        self.new_accounts: list[_New] = []
        self.new_contacts: list[_New] = []
        self.account_changes: list[tuple[Ref, dict[str, Any]]] = []
        self.contact_changes: list[tuple[Ref, dict[str, Any]]] = []
        self.stage_changes: list[tuple[Ref, str, int]] = []  # after contact_changes[:n]
        self.import_rows: list[tuple[int, str, Ref, str, dict[str, Any]]] = []
        self.outcome = Outcome()

    @property
    def matched(self) -> set[str]:
        """The existing records this plan found (and may change)."""
        found = {f"c:{pk}" for pk in self.by_email.values() if isinstance(pk, int)}
        if self.accounts_kind:  # a contacts import only refers to existing accounts
            for ref in [*self.by_domain.values(), *self.by_name.values()]:
                if isinstance(ref, int):
                    found.add(f"a:{ref}")
        return found

    # --- the owner column, shared by the run -------------------------------------------------

    def owner(self, value: str) -> int:
        found = self.owner_ids.get(value)
        if found is None:
            try:
                found = self.svc._owner_id(value)
            except InvalidInput as exc:
                found = exc
            self.owner_ids[value] = found
        if isinstance(found, InvalidInput):
            raise InvalidInput(found.errors)
        return int(found)

    # --- look-ups: one query each per chunk ---------------------------------------------------

    def look_up(self, rows: list[Prepared]) -> None:
        domains = {r.domain for r in rows if r.domain}
        names = {r.name for r in rows if r.name and not r.domain}
        visible = scoped(self.actor, Account)
        if domains:
            if self.open_accounts:
                pairs = _pairs(AccountDomain, "domain", "account_id", domains)
            else:
                pairs = list(
                    AccountDomain.objects.filter(domain__in=domains, account__in=visible)
                    .order_by("account_id")
                    .values_list("domain", "account_id")
                )
            for domain, pk in pairs:
                self.by_domain.setdefault(domain, pk)
        for name in names:  # iexact, as the row path looks them up
            key = name.upper()
            if key not in self.by_name:
                found_pk = (
                    visible.filter(name__iexact=name)
                    .order_by("pk")
                    .values_list("pk", flat=True)
                    .first()
                )
                if found_pk is not None:
                    self.by_name[key] = found_pk
        if self.accounts_kind:
            ids = {
                pk
                for pk in [*self.by_domain.values(), *self.by_name.values()]
                if isinstance(pk, int)
            }
            self.accounts = Account.objects.in_bulk(ids)
            self.changeable_accounts = set(
                scoped(self.actor, Account, "change")
                .filter(pk__in=ids)
                .values_list("pk", flat=True)
            )
            return
        emails = {r.data["email"] for r in rows if r.data and r.data.get("email")}
        self.suppressed = crm.suppressed_emails(emails)
        if emails:
            for email, pk in _pairs(ContactEmail, "email", "contact_id", emails):
                self.by_email.setdefault(email, pk)
            ids = {pk for pk in self.by_email.values() if isinstance(pk, int)}
            self.contacts = {
                row["id"]: row
                for row in Contact.objects.filter(pk__in=ids).values("id", *_CONTACT_STATE)
            }
            self.changeable_contacts = set(
                scoped(self.actor, Contact, "change")
                .filter(pk__in=ids)
                .values_list("pk", flat=True)
            )

    # --- planning rows --------------------------------------------------------------------------

    def account_for(
        self, number: int, values: dict[str, str], domain: str, name: str, *, required: bool
    ) -> tuple[Ref | None, _New | None]:
        """As `services._account_for`: (the account, a planned new one not yet committed)."""
        if not name:
            if required:
                raise InvalidInput({"account_name": [_("An account needs a name or a website.")]})
            return None, None
        ref = self.by_domain.get(domain) if domain else self.by_name.get(name.upper())
        if isinstance(ref, _New) and not self.open_accounts:
            raise NeedsRowPath
        extra: dict[str, Any] = {}
        if values.get("industry"):
            extra["industry"] = self.svc._industry(values["industry"])
        if values.get("city"):
            extra["region"] = values["city"][:100]
        if self.accounts_kind and values.get("owner"):
            extra["owner_id"] = self.owner(values["owner"])
        if ref is None:
            data = {"name": name, "domains": [domain] if domain else [], **extra}
            cleaned = crm.account_check(data, current=None, custom=self.account_custom)
            return None, _New(cleaned)
        if not self.accounts_kind:
            return ref, None
        current = self._account_state(ref)
        changed = {k: v for k, v in extra.items() if getattr(current, k) != v}
        if not changed:
            return ref, None
        if isinstance(ref, _New):
            if not self.open_account_changes:
                raise NeedsRowPath
        elif ref not in self.changeable_accounts:
            raise InvalidInput({"account_name": [_("This account exists; you may not change it.")]})
        before = {k: getattr(current, k) for k in changed}
        cleaned = crm.account_check(changed, current=current)
        for key, value in cleaned.items():
            setattr(current, key, value)
        self.account_changes.append((ref, changed))
        self.import_rows.append((number, "account", ref, "updated", before))
        self.outcome.updated += 1
        return ref, None

    def _account_state(self, ref: Ref) -> Account:
        if isinstance(ref, _New):
            if ref.account is None:
                ref.account = Account(**ref.values)
            return ref.account
        return self.accounts[ref]

    def commit_account(self, number: int, new: _New) -> _New:
        self.new_accounts.append(new)
        for domain in new.values["domains"]:
            self.by_domain.setdefault(domain, new)
        self.by_name.setdefault(new.values["name"].upper(), new)
        self.import_rows.append((number, "account", new, "created", {}))
        return new

    def account_row(self, row: Prepared) -> None:
        if row.website_error is not None:
            raise InvalidInput(row.website_error.errors)
        _ref, new = self.account_for(row.number, row.values, row.domain, row.name, required=True)
        if new is not None:
            self.commit_account(row.number, new)
            self.outcome.created += 1

    def contact_row(self, row: Prepared) -> None:
        number, values = row.number, row.values
        assert row.data is not None
        data = dict(row.data)
        if "owner" in values:
            data["owner_id"] = self.owner(values["owner"])
        if row.website_error is not None:
            raise InvalidInput(row.website_error.errors)
        new_account: _New | None = None
        if "account_name" in values or "website" in values:
            ref, new_account = self.account_for(
                number, values, row.domain, row.name, required=False
            )
            if new_account is not None:
                data["account_id"] = new_account
            elif ref is not None:
                data["account_id"] = ref
        match = self.by_email.get(data["email"]) if data.get("email") else None
        if match is None and data.get("email") in self.suppressed:
            raise InvalidInput({"email": [_(crm.SUPPRESSED_MESSAGE)]})
        if match is None:
            if isinstance(row.created, InvalidInput):
                raise InvalidInput(row.created.errors)
            assert row.created is not None
            cleaned = dict(row.created)
            for key in ("owner_id", "account_id"):
                if key in data:
                    cleaned[key] = data[key]
            if new_account is not None:
                self.commit_account(number, new_account)
            new = _New(cleaned)
            self.new_contacts.append(new)
            if cleaned.get("email"):
                self.by_email.setdefault(cleaned["email"], new)
            self.import_rows.append((number, "contact", new, "created", {}))
            self.outcome.created += 1
            return
        if isinstance(match, _New):
            if not self.open_contacts:
                raise NeedsRowPath
            if not match.state:  # its values as planned so far, from the first repeat on
                match.state = {**_CONTACT_DEFAULTS, **match.values}
            current = match.state
        elif match in self.changeable_contacts:
            current = self.contacts[match]
        else:
            message = _("A contact with this email exists; you may not change it.")
            raise InvalidInput({"email": [message]})
        changed = {k: v for k, v in data.items() if current.get(k) != v}
        fields = {k: v for k, v in changed.items() if k != "lifecycle_stage"}
        if "lifecycle_stage" in changed:
            check_stage(changed["lifecycle_stage"])
        cleaned = crm.contact_check(fields, creating=False) if fields else {}
        if new_account is not None:
            self.commit_account(number, new_account)
        if not changed:
            return
        before = {k: current.get(k) for k in changed}
        cleaned.pop("_emails", None)
        current.update(cleaned)
        if fields:
            self.contact_changes.append((match, fields))
        if "lifecycle_stage" in changed:
            current["lifecycle_stage"] = changed["lifecycle_stage"]
            moves = (match, changed["lifecycle_stage"], len(self.contact_changes))
            self.stage_changes.append(moves)
        self.import_rows.append((number, "contact", match, "updated", before))
        self.outcome.updated += 1

    # --- writing --------------------------------------------------------------------------------

    @staticmethod
    def update_contacts(actor: Actor, changes: list[tuple[Ref, dict[str, Any]]]) -> None:
        crm.contacts_bulk_update(
            actor=actor,
            changes=[(_id(ref), {k: _id(v) for k, v in data.items()}) for ref, data in changes],
        )

    def write(self) -> None:
        actor = Actor(user=self.actor)
        ids = crm.accounts_bulk_create(actor=actor, accounts=[a.values for a in self.new_accounts])
        for new, pk in zip(self.new_accounts, ids, strict=True):
            new.id = pk
        crm.accounts_bulk_update(
            actor=actor, changes=[(_id(ref), data) for ref, data in self.account_changes]
        )
        contacts = []
        for new in self.new_contacts:
            values = new.values
            if isinstance(values.get("account_id"), _New):
                values = {**values, "account_id": values["account_id"].id}
            contacts.append(values)
        ids = crm.contacts_bulk_create(actor=actor, contacts=contacts)
        for new, pk in zip(self.new_contacts, ids, strict=True):
            new.id = pk
        done = 0
        for ref, stage, after in self.stage_changes:
            self.update_contacts(actor, self.contact_changes[done:after])
            done = after
            stage_import(actor, self.job, Contact.objects.get(pk=_id(ref)), stage)
        self.update_contacts(actor, self.contact_changes[done:])
        job_id = self.job.pk
        insert_rows(
            ImportRow,
            ["job_id", "row_number", "model", "object_id", "action", "before"],
            (
                (
                    job_id,
                    number,
                    model,
                    _id(ref),
                    action,
                    {k: _id(v) for k, v in before.items()} if before else {},
                )
                for number, model, ref, action, before in self.import_rows
            ),
        )


def plan_chunk(
    actor: User,
    job: ImportJob,
    rows: list[Prepared],
    owner_ids: dict[str, Any],
    rules: Rules,
) -> Plan:
    """Look up and plan one prepared chunk (reads only); raises NeedsRowPath. `plan.write()`
    then stores it (inside the caller's transaction)."""
    plan = Plan(actor, job, owner_ids, rules)
    plan.look_up(rows)
    step = plan.account_row if plan.accounts_kind else plan.contact_row
    errors = plan.outcome.errors
    for row in rows:
        try:
            step(row)
        except InvalidInput as exc:
            errors.extend([row.number, k, m] for k, ms in exc.errors.items() for m in ms)
    return plan


def chunk_keys(rows: list[Prepared]) -> set[str]:
    """Every email, domain and account name (upper-cased) a chunk's rows may look up or write:
    two chunks without a common key (and without a common matched record, `Plan.matched`)
    cannot change what the other one finds."""
    keys: set[str] = set()
    for row in rows:
        if row.domain:
            keys.add(f"d:{row.domain}")
        if row.name:
            keys.add(f"n:{row.name.upper()}")
        email = row.data.get("email") if row.data else None
        if email:
            keys.add(f"e:{email}")
    return keys


def open_to(actor: User) -> bool:
    """Whether the actor may see and change every contact and account (no scope to judge)."""
    return (
        _unrestricted(scoped(actor, Account))
        and _unrestricted(scoped(actor, Account, "change"))
        and _unrestricted(scoped(actor, Contact, "change"))
    )
