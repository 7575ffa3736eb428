"""The ``modelyard`` command. Every command is a thin shell around modelyard.Client."""

import json
import os
import socket
import sys
from pathlib import Path

import click

from modelyard import config
from modelyard._version import __version__
from modelyard.client import Client, Version, obtain_token
from modelyard.environment import capture_file
from modelyard.errors import ModelyardError
from modelyard.progress import last_step
from modelyard.tables import render, render_pairs
from modelyard.task_inference import TASK_TYPES

STAGES = ("none", "staging", "production", "archived")


class _Group(click.Group):
    """Turn every ModelyardError into its message on stderr and exit code 1, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ModelyardError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="modelyard")
def cli():
    """Register models in Modelyard and follow their jobs.

    The server and token come from MODELYARD_URL / MODELYARD_TOKEN, else from `modelyard login`.
    """


def version_arguments(command):
    """MODEL VERSION (and --team): how every command names a version, as `deploy` does."""
    team = click.option("--team", help="team slug, when several teams have a model with this name")
    command = team(command)
    command = click.argument("version", type=int)(command)
    return click.argument("model_name")(command)


def _follow(client: Client, job_id: int, version: Version) -> dict:
    if not sys.stderr.isatty():
        click.echo(f"waiting for job {job_id}...", err=True)
    try:
        return client.wait(job_id)
    except KeyboardInterrupt:
        click.echo(
            f"\nstopped waiting; job {job_id} keeps running on the server. "
            f"Follow it with: modelyard status {version.model_name} {version.number} --wait",
            err=True,
        )
        sys.exit(130)


@cli.command()
@click.option(
    "--url", help=f"server root URL [default: ${config.URL_ENV}, the saved one, or {config.DEFAULT_URL}]"
)
@click.option("--username", help="your Modelyard user name (prompted when missing)")
@click.option("--password", help="prompted (hidden) when missing; avoid passing it on the command line")
@click.option("--token-name", default=None, help="label for the new token [default: modelyard-cli@<host>]")
def login(url, username, password, token_name):
    """Get an API token with your password and save it in the config file.

    Run it again when the token expires: the new token replaces the one saved for this server,
    which the server revokes."""
    url = config.normalise_url(url or config.resolve().url)
    username = username or click.prompt("Username")
    password = password or click.prompt("Password", hide_input=True)
    answer = obtain_token(
        url,
        username,
        password,
        name=token_name or f"modelyard-cli@{socket.gethostname()}",
        replaces=config.saved_token(url),
    )
    path = config.save(url, answer["token"])
    me = Client(url, answer["token"]).me()
    click.echo(f"Logged in to {url} as {_who(me)}.")
    expires = f" (valid until {answer['expires_at']})" if answer.get("expires_at") else ""
    click.echo(f"Token saved to {path}{expires}")
    if answer.get("replaced"):
        click.echo("The token saved before for this server is revoked.")
    if os.environ.get(config.TOKEN_ENV):
        click.echo(f"note: ${config.TOKEN_ENV} is set and takes precedence over the saved token", err=True)


def _who(me: dict) -> str:
    teams = ", ".join(me.get("teams") or []) or "no team"
    return f"{me.get('username')} ({me.get('role') or 'no role'}; teams: {teams})"


@cli.command()
def whoami():
    """Show the server and the user the token belongs to."""
    client = Client()
    me = client.me()
    click.echo(
        render_pairs(
            [
                ("server", client.url),
                ("user", me.get("username")),
                ("role", me.get("role")),
                ("roles", me.get("roles")),
                ("teams", me.get("teams")),
            ]
        )
    )


@cli.command()
@click.option("--team", help="only this team's models (slug)")
@click.option("--name", help="only the model with this exact name")
def models(team, name):
    """List the registered models you can see."""
    rows = Client().models(name=name, team=team)
    columns = [
        ("ID", "id"),
        ("NAME", "name"),
        ("TEAM", "team"),
        ("TASK", "task_type"),
        ("LATEST", "latest_version"),
        ("VERSIONS", "version_count"),
        ("OWNER", "business_owner"),
    ]
    click.echo(render(rows, columns, empty="(no models)"))


@cli.command()
@click.argument("model_name")
@click.option("--team", help="team slug, when several teams have a model with this name")
@click.option("--stage", type=click.Choice(STAGES), help="only versions in this stage")
def versions(model_name, team, stage):
    """List a model's versions, newest first."""
    found = Client().versions(model_name, team=team, stage=stage)
    rows = [{**v.raw, "created": (v.raw.get("created_at") or "")[:16].replace("T", " ")} for v in found]
    rows.sort(key=lambda r: (r.get("team") or "", -r["number"]))
    columns = [
        ("ID", "id"),
        ("MODEL", "model_name"),
        ("TEAM", "team"),
        ("VERSION", "number"),
        ("STAGE", "stage"),
        ("STATUS", "status"),
        ("FRAMEWORK", "framework"),
        ("FORMAT", "format"),
        ("CREATED", "created"),
        ("BY", "created_by"),
    ]
    click.echo(render(rows, columns, empty=f"(no versions of '{model_name}')"))


@cli.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="registered model name (created on its first version)")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="CSV/Parquet")
@click.option("--target", help="label column in the reference data")
@click.option("--task", type=click.Choice(TASK_TYPES), help="task type; inferred for new models")
@click.option("--team", help="team slug; optional when you belong to one team")
@click.option("--description", default="", help="what changed in this version")
@click.option(
    "--requirements",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="requirements.txt the model needs",
)
@click.option("--input-schema", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="JSON")
@click.option("--output-schema", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="JSON")
@click.option(
    "--holdout",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="labelled CSV/Parquet kept out of training (with the --target column)",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="METRIC=VALUE",
    help="a bound the holdout metric must meet, e.g. roc_auc=0.75 (repeatable)",
)
@click.option(
    "--metric", "metrics", multiple=True, metavar="NAME=VALUE", help="a training metric (repeatable)"
)
@click.option("--business-owner", help="username of the business owner who sponsors a new model")
@click.option("--tag", "tags", multiple=True, help="a tag for a new model (repeatable)")
@click.option("--code-commit", help="commit of the training code")
@click.option("--data-uri", help="where the training data lives")
@click.option("--parent-version", type=int, help="the version this one was derived from")
@click.option("--wait/--no-wait", default=True, show_default=True, help="follow the profiling job")
def register(
    path,
    name,
    reference,
    target,
    task,
    team,
    description,
    requirements,
    input_schema,
    output_schema,
    holdout,
    thresholds,
    metrics,
    business_owner,
    tags,
    code_commit,
    data_uri,
    parent_version,
    wait,
):
    """Register the model file PATH as a new version of model NAME."""
    client = Client()
    environment = capture_file(path)  # read from the file's bytes; the model is never loaded
    if environment["unknown_modules"]:
        click.echo(
            f"warning: {path.name} uses {', '.join(environment['unknown_modules'])}, which no installed "
            "distribution provides: install it here (or pass --requirements), or validation will fail",
            err=True,
        )
    version = client.register(
        path,
        environment=environment,
        name=name,
        reference=reference,
        target=target,
        task=task,
        team=team,
        description=description,
        requirements=requirements.read_text() if requirements else None,
        input_schema=_json_file(input_schema, "--input-schema"),
        output_schema=_json_file(output_schema, "--output-schema"),
        holdout=holdout,
        thresholds=_numbers(thresholds, "--threshold"),
        metrics=_numbers(metrics, "--metric"),
        business_owner=business_owner,
        tags=list(tags) or None,
        code_commit=code_commit,
        data_uri=data_uri,
        parent_version=parent_version,
    )
    click.echo(
        f"Registered {version.model_name} version {version.number} in team {version.team}: "
        f"framework {version.framework}, format {version.format}, status {version.status}"
    )
    if not version.safe_format:
        click.echo(
            f"note: {version.format} files run code when loaded; skops or ONNX are safe formats", err=True
        )
    if wait and version.job is not None:
        _follow(client, version.job, version)
        version = client.version(version.id)
        click.echo(f"{version.model_name} v{version.number}: {version.status}")


@cli.command()
@version_arguments
@click.option("--wait", is_flag=True, help="follow the version's job until it is done")
def status(model_name, version, team, wait):
    """Show a version (MODEL VERSION, e.g. credit-default 2) and the progress of its latest job."""
    client = Client()
    version = client.find_version(model_name, version, team=team)
    if wait and version.job is not None:
        _follow(client, version.job, version)
        version = client.version(version.id)
    click.echo(_describe(version))
    if version.job is not None:
        job = client.job(version.job)
        click.echo("")
        click.echo(
            render_pairs(
                [
                    ("job", f"{job['id']} ({job.get('kind')})"),
                    ("job status", f"{job.get('status')}, {job.get('progress', 0)}%"),
                    ("last step", last_step(job)),
                    *([("error", job["error"])] if job.get("error") else []),
                ]
            )
        )


def _json_file(path: Path | None, option: str) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise click.BadParameter(f"{path} is not valid JSON: {exc}", param_hint=option) from exc


def _numbers(pairs: tuple[str, ...], option: str) -> dict | None:
    """NAME=VALUE pairs from repeated options, as {name: float}."""
    parsed = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            parsed[name.strip()] = float(value)
        except ValueError:
            raise click.BadParameter(f"{pair!r} is not NAME=NUMBER", param_hint=option) from None
    return parsed or None


def _describe(version: Version) -> str:
    raw = version.raw
    features = (raw.get("input_schema") or {}).get("features") or []
    return render_pairs(
        [
            ("version", f"{version.model_name} v{version.number} (id {version.id})"),
            ("team", version.team),
            ("stage", version.stage),
            ("status", version.status),
            ("framework", version.framework),
            ("format", f"{version.format} ({'safe' if version.safe_format else 'runs code when loaded'})"),
            ("artifact", f"{raw.get('artifact_filename')}, {raw.get('artifact_size')} bytes"),
            ("reference", _reference(raw)),
            ("features", len(features) if features else None),
            ("created", f"{raw.get('created_at')} by {raw.get('created_by')}"),
        ]
    )


def _reference(raw: dict) -> str | None:
    if not raw.get("reference_filename"):
        return None
    target = f", target {raw['target_column']}" if raw.get("target_column") else ""
    return f"{raw['reference_filename']}, {raw.get('reference_rows')} rows{target}"


@cli.command()
@version_arguments
@click.argument("stage", type=click.Choice(STAGES))
@click.option("--reason", default="", help="why (kept in the audit log)")
def stage(model_name, version, team, stage, reason):
    """Move a version (MODEL VERSION) to another stage."""
    client = Client()
    version = client.set_stage(client.find_version(model_name, version, team=team).id, stage, reason)
    click.echo(f"{version.model_name} v{version.number} is now in stage {version.stage}")


@cli.group()
def package():
    """Build, inspect and download deployable packages."""


def _package_summary(build: dict) -> str:
    verdict = {True: "passed", False: "FAILED", None: "not run"}[build.get("validation_passed")]
    pairs = [
        ("package", f"{build['id']} for {build['model_name']} v{build['version_number']}"),
        ("status", build["status"]),
        ("validation", verdict + (" (overridden by IT)" if build.get("override_at") else "")),
        ("sha256", build.get("archive_sha256") or None),
        ("error", build.get("error") or None),
    ]
    lines = [render_pairs(pairs)]
    checks = (build.get("report") or {}).get("checks") or []
    if checks:
        lines.append("")
        lines.append(render(checks, [("CHECK", "name"), ("RESULT", "status"), ("DETAIL", "detail")]))
    return "\n".join(lines)


@package.command("build")
@version_arguments
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="follow the build with a progress bar"
)
def package_build(model_name, version, team, wait):
    """Build a version's package (MODEL VERSION): validate, lock, scaffold, archive."""
    client = Client()
    build = client.build_package(client.find_version(model_name, version, team=team).id, wait=wait)
    click.echo(_package_summary(build))
    if build["status"] == "failed":
        sys.exit(1)


@package.command("status")
@version_arguments
def package_status(model_name, version, team):
    """The newest package build of a version (MODEL VERSION) and its validation report."""
    client = Client()
    builds = client.packages(client.find_version(model_name, version, team=team).id)
    if not builds:
        raise click.ClickException(f"{model_name} v{version} has no package builds")
    click.echo(_package_summary(builds[0]))


@package.command("download")
@version_arguments
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="file or folder [default: ./MODEL-vN.tar.gz]"
)
def package_download(model_name, version, team, output):
    """Download a version's (MODEL VERSION) newest package and verify its SHA-256."""
    client = Client()
    path = client.download_package(client.find_version(model_name, version, team=team).id, output)
    click.echo(f"saved {path} (checksum verified)")


@cli.command()
@click.argument("model_name")
@click.argument("version", type=int)
@click.option("--endpoint", required=True, help="endpoint name, e.g. credit-risk")
@click.option("--environment", default="staging", show_default=True)
@click.option(
    "--strategy", type=click.Choice(["direct", "canary", "shadow"]), default="direct", show_default=True
)
@click.option("--percent", type=float, help="share of traffic for a canary")
@click.option("--team", help="team slug, when several teams have a model with this name")
def deploy(model_name, version, endpoint, environment, strategy, percent, team):
    """Deploy a model version behind an endpoint (production waits for IT's approval)."""
    d = Client().deploy(
        model_name,
        version,
        endpoint=endpoint,
        environment=environment,
        strategy=strategy,
        percent=percent,
        team=team,
    )
    click.echo(
        f"deployment {d['id']}: {d['model_name']} v{d['version_number']} → {d['endpoint']} "
        f"({d['environment']}, {d['role']}) is {d['status']}"
    )


@cli.command()
@click.argument("endpoint")
@click.option("--environment", default="production", show_default=True)
@click.option("--reason", default="", help="why (kept in the audit log)")
def rollback(endpoint, environment, reason):
    """Put back the version that served before the current one."""
    d = Client().rollback(endpoint, environment, reason)
    click.echo(f"{endpoint} ({environment}) now serves {d['model_name']} v{d['version_number']}")


@cli.command()
@click.argument("endpoint")
@click.option("--environment", default="production", show_default=True)
@click.option("--reason", default="")
def promote(endpoint, environment, reason):
    """The live canary (or shadow) of an endpoint takes all traffic."""
    d = Client().promote(endpoint, environment, reason)
    click.echo(f"{endpoint} ({environment}) now serves {d['model_name']} v{d['version_number']}")


@cli.command()
@click.argument("endpoint")
@click.option("--environment", default="production", show_default=True)
@click.option("--json", "json_text", help='records as JSON: {"Age": 30, ...} or a list of them')
@click.option(
    "--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="CSV or JSON"
)
@click.option(
    "--key",
    envvar=config.ENDPOINT_KEY_ENV,
    help=f"the endpoint's consumer key [default: ${config.ENDPOINT_KEY_ENV}]; see `modelyard keys create`",
)
@click.option("--request-id", help="your own id for the request (unique per endpoint; a reuse is refused)")
@click.option(
    "--partial",
    is_flag=True,
    help="score the records that fit the schema and list the others (default: one bad record refuses all)",
)
def predict(endpoint, environment, json_text, path, key, request_id, partial):
    """Score records on the inference service and print the answer as JSON."""
    if path is not None and path.suffix.lower() == ".csv":
        import pandas as pd

        records = pd.read_csv(path)
    else:
        text = path.read_text() if path is not None else json_text
        if not text:
            raise click.ClickException("give the records with --json or --file")
        try:
            records = json.loads(text)
        except ValueError as exc:
            where = "--file" if path is not None else "--json"
            raise click.ClickException(f"{where} is not valid JSON: {exc}") from None
    answer = Client().predict(endpoint, records, environment, key=key, request_id=request_id, partial=partial)
    click.echo(json.dumps(answer, indent=2))
    if answer.get("refused"):
        total = len(answer.get("predictions", []))
        click.echo(f"{len(answer['refused'])} of {total} records refused: see errors", err=True)


@cli.group()
def keys():
    """Consumer keys: what applications send to score an endpoint (its team and IT manage them)."""


@keys.command("create")
@click.argument("endpoint")
@click.option("--environment", default="production", show_default=True)
@click.option("--name", required=True, help="who or what uses the key, e.g. loan-origination")
def keys_create(endpoint, environment, name):
    """Create a key; it is printed this once (only its hash is stored)."""
    created = Client().create_endpoint_key(endpoint, name, environment)
    click.echo(created["key"])
    click.echo(
        f"key {created['id']} ({created['prefix']}…) for {endpoint} ({environment}): shown this once; "
        f"send it as 'Authorization: Bearer <key>' or set ${config.ENDPOINT_KEY_ENV}",
        err=True,
    )


@keys.command("list")
@click.argument("endpoint")
@click.option("--environment", default="production", show_default=True)
def keys_list(endpoint, environment):
    """The endpoint's keys, revoked ones included (never the keys themselves)."""
    rows = [
        {**k, "status": "active" if k["active"] else f"revoked {k['revoked_at'][:16]}"}
        for k in Client().endpoint_keys(endpoint, environment)
    ]
    columns = [
        ("ID", "id"),
        ("NAME", "name"),
        ("STARTS WITH", "prefix"),
        ("CREATED BY", "created_by"),
        ("CREATED", "created_at"),
        ("STATUS", "status"),
    ]
    click.echo(render(rows, columns, empty="(no keys)"))


@keys.command("revoke")
@click.argument("endpoint")
@click.argument("key_id", type=int)
@click.option("--environment", default="production", show_default=True)
def keys_revoke(endpoint, key_id, environment):
    """Revoke a key; the inference service refuses it within a few seconds."""
    revoked = Client().revoke_endpoint_key(endpoint, key_id, environment)
    click.echo(f"key {revoked['id']} ({revoked['prefix']}…) of {endpoint} ({environment}) revoked")


@cli.group()
def outcomes():
    """Ground truth that arrives after the predictions."""


@outcomes.command("send")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--endpoint", required=True)
@click.option("--environment", default="production", show_default=True)
@click.option("--key-field", help="input field holding the business key, when the CSV has business_key")
def outcomes_send(path, endpoint, environment, key_field):
    """Send a CSV of outcomes (request_id[,row],value or business_key,value); a row sent again
    replaces its value."""
    answer = Client().send_outcomes(endpoint, path, environment, key_field=key_field)
    replaced = answer.get("overwritten", 0)
    click.echo(
        f"accepted {answer['accepted']}"
        + (f" ({replaced} replaced an earlier value)" if replaced else "")
        + f"; unknown ids {answer['unknown_count']}"
    )
    for request_id in answer["unknown"][:20]:
        click.echo(f"  unknown: {request_id}")


@cli.group()
def batch():
    """Score files in chunks on the server's workers and fetch the scored files."""


def _batch_summary(job: dict) -> str:
    via = f" via {job['endpoint']} ({job['environment']})" if job.get("endpoint") else ""
    return render_pairs(
        [
            ("batch job", f"{job['id']}: {job['input_filename']}"),
            ("model", f"{job['model_name']} v{job['version_number']}{via}"),
            ("status", f"{job['status']} ({job['progress']}%)"),
            ("chunks", f"{job['chunks_done']}/{job['chunks_total']} of {job['chunk_size']} rows"),
            ("rows", f"{job['row_count']}: {job['rows_scored']} scored, {job['rows_refused']} refused"),
            ("error", job.get("error") or None),
        ]
    )


@batch.command("score")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--endpoint", required=True, help="endpoint whose live version scores the file")
@click.option("--environment", default="production", show_default=True)
@click.option("--chunk-size", type=int, help="rows per chunk [default: the server's, 5000]")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="save the scored file here")
@click.option("--wait/--no-wait", default=True, show_default=True, help="follow the job with a progress bar")
def batch_score(path, endpoint, environment, chunk_size, output, wait):
    """Score a CSV or Parquet file with an endpoint's live version."""
    client = Client()
    job = client.batch_score(endpoint, path, environment, chunk_size=chunk_size, wait=False)
    click.echo(f"batch job {job['id']} queued: {job['row_count']} rows in {job['chunks_total']} chunks")
    if wait:
        if not sys.stderr.isatty():
            click.echo(f"waiting for job {job['job']}...", err=True)
        try:
            client.wait(job["job"])
        except KeyboardInterrupt:
            click.echo(
                f"\nstopped waiting; batch job {job['id']} keeps running on the server. "
                f"Follow it with: modelyard batch status {job['id']}",
                err=True,
            )
            sys.exit(130)
        job = client.batch_job(job["id"])
        click.echo(_batch_summary(job))
        if output is not None:
            click.echo(f"saved {client.download_batch(job['id'], output)}")


@batch.command("status")
@click.argument("batch_job_id", type=int)
def batch_status(batch_job_id):
    """A batch job's progress and counts."""
    click.echo(_batch_summary(Client().batch_job(batch_job_id)))


@batch.command("download")
@click.argument("batch_job_id", type=int)
@click.argument("output", type=click.Path(path_type=Path))
def batch_download(batch_job_id, output):
    """Save a finished batch job's scored file (OUTPUT: a file or a folder)."""
    click.echo(f"saved {Client().download_batch(batch_job_id, output)}")


def main() -> None:
    cli(prog_name="modelyard")


if __name__ == "__main__":
    main()
