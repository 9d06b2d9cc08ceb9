"""`manage.py proxy start|stop|status|reload|run`: Berth's front proxy.

start/reload/stop drive Berth's own nginx master (it runs in the background);
run keeps nginx in the foreground and applies configs other processes write,
for compose.yaml's proxy service (BERTH_PROXY_MODE=external elsewhere).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.proxy import nginx
from apps.proxy.errors import ProxyError


class Command(BaseCommand):
    help = "Start, stop, reload or show Berth's front proxy (nginx)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["start", "stop", "status", "reload", "run"])

    def handle(self, *args, action: str, **options) -> None:
        try:
            if action == "start":
                nginx.ensure_running()
                self._print_status()
            elif action == "reload":
                nginx.reload()
                self.stdout.write(self.style.SUCCESS("Reloaded the proxy."))
            elif action == "stop":
                if nginx.stop():
                    self.stdout.write(self.style.SUCCESS("Stopped the proxy."))
                else:
                    self.stdout.write("The proxy was not running.")
            elif action == "status":
                self._print_status()
            elif action == "run":
                raise SystemExit(nginx.run_foreground())
        except ProxyError as e:
            raise CommandError(e.message) from e

    def _print_status(self) -> None:
        st = nginx.status()
        state = f"running (nginx master {st.pid})" if st.pid else st.message
        self.stdout.write(f"Proxy: {state}  [mode {st.mode}]")
        self.stdout.write(
            f"Apps answer at {nginx.app_url('<app>')} and {nginx.app_url('<app>', https=True)}"
            f"  (listening on {st.listen})"
        )
        self.stdout.write(f"Config: {st.config}\nTLS certificate: {st.certificate}")
        if st.routes:
            for name, upstream in sorted(st.routes.items()):
                self.stdout.write(f"  {nginx.app_url(name)} -> {upstream}")
        else:
            self.stdout.write("  No routes yet: deploy an app.")
