"""Batch scoring pages: submit a file, watch each job's progress bar, download the scored file."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render

from apps.accounts import access
from apps.accounts.roles import Role
from apps.core.pages import error_text
from apps.deployments.models import Deployment
from apps.deployments.selectors import endpoints_visible_to
from apps.serving.batch.services import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, batch_job_submit
from apps.serving.models import BatchJob
from apps.serving.selectors import batch_jobs_visible_to

PAGE_SIZE = 50


class BatchSubmitForm(forms.Form):
    file = forms.FileField(help_text="CSV or Parquet with a column for each of the model's features")
    endpoint = forms.ChoiceField(help_text="scored with the version live on this endpoint now")
    chunk_size = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_CHUNK_SIZE,
        help_text=f"rows per chunk, spread across workers (default {DEFAULT_CHUNK_SIZE:,})",
    )

    def __init__(self, *args, endpoints, **kwargs):
        super().__init__(*args, **kwargs)
        self.endpoints = {str(e.pk): e for e in endpoints}
        self.fields["endpoint"].choices = [
            (pk, f"{e.name} ({e.environment.name})") for pk, e in self.endpoints.items()
        ]


def _may_use(user) -> bool:
    return access.has_role(user, Role.DATA_SCIENTIST, Role.IT_OPERATOR, Role.ADMIN)


def _jobs(user):
    return batch_jobs_visible_to(user).select_related("job", "endpoint", "version__model", "submitted_by")


@login_required
def batch_jobs(request):
    """The list of batch jobs with a progress bar each, and the form that submits a new one."""
    if not _may_use(request.user):
        raise Http404("batch scoring is for data scientists and IT operators")
    endpoints = (
        endpoints_visible_to(request.user)
        .filter(deployments__status=Deployment.Status.LIVE, deployments__role=Deployment.Role.PRIMARY)
        .select_related("environment")
        .distinct()
    )
    form = BatchSubmitForm(
        request.POST or None,
        request.FILES or None,
        endpoints=endpoints,
        initial={"endpoint": request.GET.get("endpoint")},
    )
    if request.method == "POST" and form.is_valid():
        endpoint = form.endpoints[form.cleaned_data["endpoint"]]
        upload = form.cleaned_data["file"]
        try:
            batch = batch_job_submit(
                user=request.user,
                upload=upload,
                filename=upload.name,
                endpoint=endpoint.name,
                environment=endpoint.environment.name,
                chunk_size=form.cleaned_data["chunk_size"],
            )
        except (ValidationError, PermissionDenied, Http404) as exc:
            form.add_error(None, error_text(exc) if not isinstance(exc, Http404) else str(exc))
        else:
            messages.success(request, f"Batch job {batch.pk} queued: {batch.row_count:,} rows.")
            return redirect("serving:batch-jobs")
    return render(request, "serving/batch_jobs.html", {"form": form, "jobs": _jobs(request.user)[:PAGE_SIZE]})


@login_required
def batch_job_card(request, pk: int):
    """An htmx fragment: one job's card, polling itself until the job is done."""
    batch = get_object_or_404(_jobs(request.user), pk=pk)
    return render(request, "serving/_batch_job.html", {"b": batch})


@login_required
def batch_job_download(request, pk: int):
    batch = get_object_or_404(batch_jobs_visible_to(request.user), pk=pk)
    if batch.status != BatchJob.Status.SUCCEEDED:
        raise Http404("this job has no scored file")
    filename = batch.output_file.name.rsplit("/", 1)[-1]
    return FileResponse(batch.output_file.open("rb"), as_attachment=True, filename=filename)
