"""How a shadow (or canary) compares with the version that answered the same requests: both are
in the prediction log under the same request id and row, so the comparison is a join on those."""

from dataclasses import dataclass

from apps.serving.models import Prediction


@dataclass(frozen=True)
class Agreement:
    compared: int  # answers scored by both
    agreeing: int  # same predicted value
    mean_probability_shift: (
        float | None
    )  # mean |p_shadow − p_primary| over classes, None without probabilities

    @property
    def share(self) -> float:
        return self.agreeing / self.compared if self.compared else 0.0


def agreement(pairs: list[tuple[object, object, list | None, list | None]]) -> Agreement:
    """``pairs`` of (primary prediction, other prediction, primary probabilities, other's)."""
    shifts = [
        sum(abs(a - b) for a, b in zip(p, q, strict=True)) / len(p)
        for _, _, p, q in pairs
        if p and q and len(p) == len(q)
    ]
    return Agreement(
        compared=len(pairs),
        agreeing=sum(1 for first, second, _, _ in pairs if first == second),
        mean_probability_shift=sum(shifts) / len(shifts) if shifts else None,
    )


def shadow_agreement(deployment, *, last: int = 5000) -> Agreement:
    """The deployment's last ``last`` logged answers against what the endpoint answered them with."""
    theirs = list(
        Prediction.objects.filter(deployment_id=deployment.pk)
        .order_by("-ts")
        .values_list("request_id", "row", "prediction", "probabilities")[:last]
    )
    answered = {
        (request_id, row): (prediction, probabilities)
        for request_id, row, prediction, probabilities in Prediction.objects.filter(
            endpoint=deployment.endpoint.name,
            environment=deployment.endpoint.environment.name,
            request_id__in={t[0] for t in theirs},
            role__in=[Prediction.Role.PRIMARY, Prediction.Role.CANARY],
        )
        .exclude(deployment_id=deployment.pk)
        .values_list("request_id", "row", "prediction", "probabilities")
    }
    pairs = [
        (answered[(rid, row)][0], prediction, answered[(rid, row)][1], probabilities)
        for rid, row, prediction, probabilities in theirs
        if (rid, row) in answered
    ]
    return agreement(pairs)
