"""plotly.js adds no inline <style> under our pages' policy only while static/css/plotly.css and
templates/_charts.html match the installed bundle; these fail after a plotly upgrade that changes
either, and say what to do."""

import re
from pathlib import Path

from apps.dashboards.plotly_assets import (
    BUNDLE,
    GLOBAL_STYLE_ID,
    STYLESHEET,
    global_css,
    guarded_style_ids,
    style_elements_created,
)

CHARTS_TEMPLATE = Path(__file__).resolve().parents[3] / "templates" / "_charts.html"
BUNDLE_TEXT = BUNDLE.read_text(encoding="utf-8")


def test_the_static_stylesheet_holds_the_rules_of_the_installed_plotly():
    assert STYLESHEET.read_text(encoding="utf-8") == global_css(BUNDLE_TEXT), (
        "static/css/plotly.css is stale: run `manage.py plotly_css`"
    )
    assert ".js-plotly-plot .plotly .modebar {" in STYLESHEET.read_text(encoding="utf-8")


def test_the_bundle_adds_no_style_element_that_the_charts_template_does_not_pre_empt():
    template = CHARTS_TEMPLATE.read_text(encoding="utf-8")
    # plotly.js skips its global <style> when this element exists with this class.
    assert 'matches(".no-inline-styles")' in BUNDLE_TEXT
    link = re.search(rf'<link [^>]*id="{re.escape(GLOBAL_STYLE_ID)}"[^>]*>', template)
    assert link and 'class="no-inline-styles"' in link.group(0) and "css/plotly.css" in link.group(0)
    ids = guarded_style_ids(BUNDLE_TEXT)
    for style_id in ids:
        assert f'id="{style_id}"' in template, f"templates/_charts.html lacks an element with id {style_id}"
    assert style_elements_created(BUNDLE_TEXT) == 1 + len(ids), "the bundle adds a <style> not pre-empted"
    assert template.index(GLOBAL_STYLE_ID) < template.index("plotly.min.js")
