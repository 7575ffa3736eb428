"""What a strict Content-Security-Policy and a page without inline script look like, shared by the
crawl over every page and the browser walk."""

from html.parser import HTMLParser
from urllib.parse import urlencode

REQUIRED = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
}
# Sources that would let an injected script run, for every directive that governs scripts or styles.
LOOSE = {
    "'unsafe-inline'",
    "'unsafe-eval'",
    "'unsafe-hashes'",
    "'wasm-unsafe-eval'",
    "*",
    "data:",
    "blob:",
    "http:",
    "https:",
}


def parse_policy(header: str) -> dict[str, set[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = set(words[1:])
    return directives


def policy_problems(header: str | None) -> list[str]:
    """Why this Content-Security-Policy header is not strict enough (empty when it is)."""
    if not header:
        return ["no Content-Security-Policy header"]
    policy = parse_policy(header)
    problems = [
        f"{name} is {sorted(policy.get(name, set()))}, expected {sorted(sources)}"
        for name, sources in REQUIRED.items()
        if policy.get(name) != sources
    ]
    for name in (
        "default-src",
        "script-src",
        "script-src-elem",
        "script-src-attr",
        "style-src",
        "style-src-elem",
    ):
        loose = policy.get(name, set()) & LOOSE
        if loose:
            problems.append(f"{name} allows {sorted(loose)}")
    # The one relaxation: style attributes (plotly.js writes them on its SVG), nothing else.
    if policy.get("style-src-attr", {"'unsafe-inline'"}) != {"'unsafe-inline'"}:
        problems.append(f"style-src-attr is {sorted(policy['style-src-attr'])}")
    return problems


class PageScan(HTMLParser):
    """Inline scripts, event-handler attributes and javascript: URLs in a page, and the links to
    follow from it: <a href>, htmx's hx-get, and GET forms sent with the values they show."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.links: list[str] = []
        self._inline_script = False
        self._form: tuple[str, list[tuple[str, str]]] | None = None
        self._select: str | None = None
        self._select_value: str | None = None

    def handle_starttag(self, tag, attrs):
        named = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script" and not named.get("src") and named.get("type") != "application/json":
            self._inline_script = True
            self.problems.append(f"inline <script {' '.join(f'{k}={v!r}' for k, v in attrs)}>")
        if tag == "a" and named.get("href"):
            self.links.append(named["href"])
        if named.get("hx-get"):
            self.links.append(named["hx-get"])
        if tag == "form" and (named.get("method") or "get").lower() == "get":
            self._form = (named.get("hx-get") or named.get("action") or "", [])
        elif self._form is not None and named.get("name"):
            if tag == "input" and (named.get("type") not in ("checkbox", "radio") or "checked" in named):
                self._form[1].append((named["name"], named.get("value") or ""))
            elif tag == "select":
                self._select, self._select_value = named["name"], None
        if (
            tag == "option"
            and self._select is not None
            and (self._select_value is None or "selected" in named)
        ):
            self._select_value = named.get("value", "")

    def handle_endtag(self, tag):
        if tag == "script":
            self._inline_script = False
        if tag == "select" and self._form is not None and self._select is not None:
            self._form[1].append((self._select, self._select_value or ""))
            self._select = None
        if tag == "form" and self._form is not None:
            action, fields = self._form
            self.links.append(f"{action.split('?')[0]}?{urlencode(fields)}" if fields else action)
            self._form = None

    def handle_data(self, data):
        if self._inline_script and data.strip():
            self.problems[-1] += f" {data.strip()[:60]!r}"


def scan(html: str) -> PageScan:
    page = PageScan()
    page.feed(html)
    page.close()
    return page
