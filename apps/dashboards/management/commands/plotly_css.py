from django.core.management.base import BaseCommand

from apps.dashboards.plotly_assets import BUNDLE, STYLESHEET, global_css


class Command(BaseCommand):
    help = "Write static/css/plotly.css from the installed plotly.js (run after upgrading plotly)."

    def handle(self, *args, **options):
        STYLESHEET.write_text(global_css(BUNDLE.read_text(encoding="utf-8")), encoding="utf-8")
        self.stdout.write(f"wrote {STYLESHEET}")
