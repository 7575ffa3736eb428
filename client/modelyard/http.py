"""A thin requests wrapper: token header, JSON decoding, pagination and errors as ApiError."""

from collections.abc import Iterator
from urllib.parse import urljoin

import requests

from modelyard._version import __version__
from modelyard.errors import ApiError, ConnectionFailed

API_PREFIX = "/api/v1/"
# (connect, read) seconds; reads are long because uploads are validated before the server answers.
DEFAULT_TIMEOUT = (10, 600)


class Http:
    def __init__(self, url: str, token: str | None = None, timeout=DEFAULT_TIMEOUT):
        self.url = url
        self.base = url.rstrip("/") + API_PREFIX
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = f"modelyard-client/{__version__}"
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def request(self, method: str, path: str, **kwargs):
        """The decoded JSON body of a successful answer (None when empty); ApiError otherwise."""
        url = path if path.startswith(("http://", "https://")) else urljoin(self.base, path.lstrip("/"))
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.ConnectionError as exc:
            raise ConnectionFailed(f"cannot reach Modelyard at {self.url}: {_root_cause(exc)}") from exc
        except requests.Timeout as exc:
            raise ConnectionFailed(f"Modelyard at {self.url} did not answer in time") from exc
        if response.status_code >= 400:
            raise _error(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                response.status_code, "the server answered with something other than JSON"
            ) from exc

    def get(self, path: str, params: dict | None = None):
        return self.request("GET", path, params=_clean(params))

    def post(self, path: str, json=None, data=None, files=None):
        return self.request("POST", path, json=json, data=data, files=files)

    def download(self, path: str, destination) -> int:
        """Stream a file answer to ``destination`` (a path); returns the bytes written."""
        url = urljoin(self.base, path.lstrip("/"))
        try:
            response = self.session.get(url, stream=True, timeout=self.timeout)
        except requests.ConnectionError as exc:
            raise ConnectionFailed(f"cannot reach Modelyard at {self.url}: {_root_cause(exc)}") from exc
        if response.status_code >= 400:
            raise _error(response)
        written = 0
        with open(destination, "wb") as out:
            for chunk in response.iter_content(1024 * 1024):
                out.write(chunk)
                written += len(chunk)
        return written

    def paginate(self, path: str, params: dict | None = None) -> Iterator[dict]:
        """Every item of a LimitOffset-paginated list, following ``next`` links."""
        page = self.get(path, params)
        while True:
            if isinstance(page, list):  # an unpaginated endpoint
                yield from page
                return
            yield from page.get("results", [])
            if not page.get("next"):
                return
            page = self.get(page["next"])


def _clean(params: dict | None) -> dict | None:
    return {k: v for k, v in params.items() if v not in (None, "")} if params else None


def _error(response: requests.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return ApiError.from_body(response.status_code, body, url=response.url, reason=response.reason or "")


def _root_cause(exc: BaseException) -> str:
    # requests wraps urllib3 wraps socket errors; the innermost message is the useful one.
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    return str(exc) or type(exc).__name__
