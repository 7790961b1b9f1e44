"""One example command line per sub-command, shown at the end of its ``--help`` (a test checks that every
command has one)."""

from __future__ import annotations

from typing import Final

EXAMPLES: Final = {
    "submit": "koodispatch submit config/campaigns/example.toml --recipients recipients.csv",
    "status": "koodispatch status spring-sale --watch",
    "pause": "koodispatch pause spring-sale",
    "resume": "koodispatch resume spring-sale",
    "cancel": "koodispatch cancel spring-sale",
    "rate": "koodispatch rate --smart 800 --sms 300",
    "list": "koodispatch list --state running --since 2026-12-01",
    "top": "koodispatch top",
    "purge": "koodispatch purge --older-than 30",
    "reschedule": "koodispatch reschedule spring-sale --start-at 2026-12-08T09:00+08:00",
    "priority": "koodispatch priority spring-sale urgent",
    "plan": "koodispatch plan config/campaigns/example.toml --check-capability",
    "report": "koodispatch report spring-sale --html report.html --failed-out failed.xlsx",
    "resend-failed": "koodispatch resend-failed spring-sale --reason undelivered --channel sms",
    "worker": "koodispatch worker --metrics-port 9108 --log-format json",
    "run": "koodispatch run config/campaigns/example.toml --workers 4 --confirm-trial",
    "demo": "koodispatch demo --recipients 20000 --html demo.html",
    "simulate": "koodispatch simulate --port 8640 --receipts-url http://127.0.0.1:8650 --delivered-share 0.9",
    "receipts": "koodispatch receipts --port 8650",
    "callbacks register": "koodispatch callbacks register --url https://receipts.example.com",
    "serve": "koodispatch serve --port 8080 --trusted-proxy 10.0.0.2",
    "tokens create": "koodispatch tokens create crm-integration --role operator",
    "tokens list": "koodispatch tokens list",
    "tokens revoke": "koodispatch tokens revoke 3f2a9c1e",
}
