"""`manage.py runtime list`, `manage.py runtime ensure 3.11 [3.13 ...]` and
`manage.py runtime ensure --available` (every version that can be built
here; the others are listed with why not)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.engine import builders, runtimes

PER_PACKAGE = ("Retrieving ", "Validating ", "Extracting ", "Unpacking ", "Configuring ")


class Command(BaseCommand):
    help = "List the Python runtime images, or make sure some exist (building them if needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="what `az webapp list-runtimes --os linux` would show here")
        ensure = sub.add_parser("ensure", help="build the images that are missing or outdated")
        ensure.add_argument("versions", nargs="*", metavar="VERSION", help="e.g. 3.11")
        ensure.add_argument(
            "--available",
            action="store_true",
            help="every version the catalog can build here (the others: why not)",
        )

    def handle(self, *args, action: str, **options) -> None:
        if action == "list":
            self.list()
        elif options["available"] or options["versions"]:
            more = self.available() if options["available"] else []
            self.ensure([*options["versions"], *more])
        else:
            raise CommandError("Name the versions to ensure (e.g. 3.11), or --available.")

    def list(self) -> None:
        rows = [("VERSION", "CONFIG", "IMAGE", "STATUS", "END OF LIFE", "DETAIL")]
        rows += [
            (rt.version, rt.config, rt.image, rt.status, rt.end_of_life, rt.detail)
            for rt in runtimes.catalog()
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[-1]]).rstrip())

    def available(self) -> list[str]:
        """The versions ready or buildable here; says why for the others."""
        chosen = []
        for rt in runtimes.catalog():
            if rt.status == runtimes.Status.UNAVAILABLE:
                self.stdout.write(f"[{rt.version}] not available here: {rt.detail}")
            else:
                chosen.append(rt.version)
        return chosen

    def ensure(self, versions: list[str]) -> None:
        versions = list(dict.fromkeys(versions))
        failed = []
        for version in versions:
            last = -1

            def echo(percent: int, message: str, version: str = version) -> None:
                nonlocal last
                # Stage changes and debootstrap's notes, not a line for every package.
                per_package = message.removeprefix("I: ").startswith(PER_PACKAGE)
                if percent != last or not per_package:
                    self.stdout.write(f"[{version} {percent:3d}%] {message}")
                    last = percent

            result, error = builders.ensure_and_record(version, echo=echo)
            if error or result is None:
                self.stderr.write(f"[{version}] {error}")
                failed.append(version)
                continue
            if result.built and result.source:
                self.stdout.write(
                    f"[{version}] built {result.tag} ({result.source}) in {result.seconds:.0f} s, "
                    f"{result.size / 1e6:.0f} MB, Python {result.python}"
                )
            if result.build_seconds:
                self.stdout.write(
                    f"[{version}] built {result.build_tag} in {result.build_seconds:.0f} s"
                )
        if failed:
            raise CommandError(f"Could not make the runtime image for {', '.join(failed)}.")
