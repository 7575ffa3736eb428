"""plotly.js's own stylesheet as a static file, so the Content-Security-Policy can refuse every
inline <style> element (config/settings/base.py).

When the bundle loads, plotly.js writes its global rules into a new <style id="plotly.js-style-global">
unless an element with that id and the class ``no-inline-styles`` is already on the page, and the
map library inside the bundle does the same with its own id. templates/_charts.html puts a <link>
to static/css/plotly.css under the first id and an empty <template> under the second (we draw no
maps). ``manage.py plotly_css`` rewrites static/css/plotly.css from the installed bundle; a unit
test fails when the file or the ids no longer match the bundle, as after a plotly upgrade.
"""

import re
from pathlib import Path

import plotly

BUNDLE = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
STYLESHEET = Path(__file__).resolve().parent.parent.parent / "static" / "css" / "plotly.css"
GLOBAL_STYLE_ID = "plotly.js-style-global"

_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''
# The object of rules ({"X,X div": "direction:ltr;…", …}) that plotly.js adds one by one.
_RULES = re.compile(r'=(\{"X,X div":.*?\});for\(\w+ in \w+\)')
_PAIR = re.compile(rf"({_STRING}):({_STRING})")
# "if(!document.getElementById(ID)){var e=document.createElement("style")": a style added once.
_GUARDED_STYLE = re.compile(
    r'if\(!document\.getElementById\("([^"]+)"\)\)\{var \w+=document\.createElement\("style"\)'
)


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


def global_css(bundle: str) -> str:
    """The rules plotly.js would insert, in the order they end up in its sheet (each is inserted
    at the top, so the last one comes first)."""
    found = _RULES.search(bundle)
    if found is None:
        raise ValueError("plotly.js's global style rules were not found in the bundle")
    rules = []
    for key, value in _PAIR.findall(found.group(1)):
        selector = re.sub(r"^,", " ,", _unquote(key))
        selector = selector.replace("X", ".js-plotly-plot .plotly").replace("Y", ".plotly-notifier")
        rules.append(f"{selector} {{{_unquote(value)}}}")
    header = (
        "/* plotly.js's global rules, written by `manage.py plotly_css` from the installed bundle so\n"
        "   that the page needs no inline <style> (apps/dashboards/plotly_assets.py). Do not edit. */\n"
    )
    return header + "\n".join(reversed(rules)) + "\n"


def guarded_style_ids(bundle: str) -> list[str]:
    """Ids of the other <style> elements the bundle adds unless an element with that id exists."""
    return _GUARDED_STYLE.findall(bundle)


def style_elements_created(bundle: str) -> int:
    return bundle.count('createElement("style")')
