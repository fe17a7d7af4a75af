"""What the support desk and the operator do to accounts (SPEC 9): the use cases of the admin
CLI (chalicelib/admin.py) and of the support console to come, each built by bootstrap.py.

- changes.py: create, disable, enable, set a number, unlock, generate a password;
- imports.py: an account list in CSV, checked whole, then imported;
- report.py: what the report counts (REPORT_COUNTS) and the report;
- state.py: AccountState, and show/state/events/list_accounts/expiring;
- diagnosis.py: why an account does or does not get a code, per holder and channel;
- holders.py: an account's holders: list, add, remove, remove one's authenticator app,
  and the migration from version 1;
- monthly.py: one account's events of one month, with who did each (`report --account`).

Every change is one transaction that holds its own audit record and is conditioned on what
was read; a concurrent change makes it read again and retry. Answers are plain values
(AccountState, Diagnosis, Report, ImportResult) that the CLI lays out; nothing here prints.
"""
