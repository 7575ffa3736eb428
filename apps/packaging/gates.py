"""Gates a package build must pass once its lock is known, before validation. Apps above packaging
register them (libraries: IT's library policy, in its AppConfig.ready), so packaging knows nothing
of them (docs/architecture.md: an app imports only apps below it)."""

from collections.abc import Callable

# gate(team=..., packages=[(name, version), ...]) -> the refusal's sentence, or None to let it pass
LockGate = Callable[..., str | None]
_lock_gates: list[LockGate] = []


def register_lock_gate(gate: LockGate) -> None:
    if gate not in _lock_gates:  # ready() may run more than once (tests, reloads)
        _lock_gates.append(gate)


def lock_refusal(*, team, packages) -> str | None:
    """The first registered gate's refusal of this lock, or None when every gate lets it pass."""
    for gate in _lock_gates:
        if (refusal := gate(team=team, packages=packages)) is not None:
            return refusal
    return None
