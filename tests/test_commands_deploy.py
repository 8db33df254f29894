"""`ci-deploy deploy` end to end against a scripted CodeDeploy endpoint over HTTP, for what the
emulator cannot stage on demand: another deployment active in the group, several regions, an
ECS group. GitHub and AppSpecContent revisions need no S3."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ci_deploy import cli
from ci_deploy.aws.codedeploy import CodeDeployApi, DeploymentGroup, NewDeployment
from ci_deploy.deploying.create import start_and_follow
from ci_deploy.deploying.follow import Timekeeping
from ci_deploy.errors import AwsError
from ci_deploy.events import Event, Notice
from ci_deploy.result import RegionRun
from ci_deploy.watch import WatchOptions
from fake_codedeploy import Frame, instance_target

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CI_DEPLOY = str(Path(sys.executable).with_name("ci-deploy"))
GITHUB = ["--github-repository", "octo/web", "--commit-id", "a" * 40, "--no-register"]


def quick(status: str = "Succeeded") -> list[Frame]:
    """A deployment that is running on the first look and ends on the second."""
    targets = {"i-1": instance_target("i-1", [("Install", "InProgress")])}
    done = {
        "i-1": instance_target(
            "i-1", [("Install", "Succeeded" if status == "Succeeded" else "Failed")]
        )
    }
    error = None if status == "Succeeded" else {"code": "HEALTH_CONSTRAINTS", "message": "failed"}
    return [Frame("InProgress", targets), Frame(status, done, error=error)]


def deploy(fake, env, streams, *args: str) -> int:
    argv = [
        "deploy",
        "--application",
        "web",
        "--deployment-group",
        "prod",
        "--endpoint-url",
        fake.endpoint_url,
        *args,
    ]
    return cli.run(argv, env, streams)


def deploy_to(fake, env, streams, regions: str, *args: str) -> int:
    """A GitHub revision to several regions, each watched for at most a minute."""
    return deploy(
        fake, env, streams, *GITHUB, "--region", regions, "--timeout-seconds", "60", *args
    )


def test_waits_for_the_active_deployment_then_starts(fake_codedeploy, aws_env, streams) -> None:
    active = fake_codedeploy.add(quick(), deployment_id="d-ACTIVE0001")
    fake_codedeploy.next_frames = [quick()]
    code = deploy(fake_codedeploy, aws_env, streams, *GITHUB)
    assert code == 0, streams.err
    creates = fake_codedeploy.calls_of("CreateDeployment")
    assert len(creates) == 2
    # Found through the API, not the error message (which names no id here).
    assert fake_codedeploy.calls_of("ListDeployments") == [
        {
            "applicationName": "web",
            "deploymentGroupName": "prod",
            "includeOnlyStatuses": ["Created", "Queued", "InProgress", "Baking", "Ready"],
        }
    ]
    assert f"deployment {active} is active in group 'prod': waiting for it to end" in streams.err
    assert f"deployment {active} ended: starting ours" in streams.err
    result = json.loads(streams.out)
    assert result["status"] == "Succeeded"
    assert result["deployment_id"] != active
    assert result["revision"] == {
        "revisionType": "GitHub",
        "gitHubLocation": {"repository": "octo/web", "commitId": "a" * 40},
    }


def test_no_wait_for_active_fails_with_a_hint(fake_codedeploy, aws_env, streams) -> None:
    fake_codedeploy.add(quick(), deployment_id="d-ACTIVE0002")
    code = deploy(fake_codedeploy, aws_env, streams, *GITHUB, "--no-wait-for-active")
    assert code == 3
    assert "DeploymentLimitExceededException" in streams.err
    assert "hint: another deployment is active in this group; pass --wait-for-active" in streams.err
    assert len(fake_codedeploy.calls_of("CreateDeployment")) == 1


def test_serial_rollout_stops_at_the_first_failing_region(
    fake_codedeploy, aws_env, streams
) -> None:
    fake_codedeploy.next_frames = [quick(), quick("Failed")]
    code = deploy(
        fake_codedeploy,
        aws_env,
        streams,
        *GITHUB,
        "--region",
        "us-east-1,eu-west-1",
        "--region",
        "ap-south-1",
        "--timeout-seconds",
        "60",
    )
    assert code == 1
    result = json.loads(streams.out)
    assert result["regions"] == ["us-east-1", "eu-west-1"]
    assert result["status"] == "Failed"
    assert [d["status"] for d in result["deployments"]] == ["Succeeded", "Failed"]
    assert set(result["deployment_ids"]) == {"us-east-1", "eu-west-1"}
    assert result["deployments"][1]["console_url"].endswith("?region=eu-west-1")
    assert len(fake_codedeploy.calls_of("CreateDeployment")) == 2
    assert "serial rollout stopped at eu-west-1: not deploying to ap-south-1" in streams.err
    failed_id = result["deployment_ids"]["eu-west-1"]
    assert f"deployment {failed_id} (eu-west-1) Failed: HEALTH_CONSTRAINTS: failed" in streams.err
    assert f"ci-deploy: error: deployment {failed_id} (eu-west-1) Failed" in streams.err


def test_every_create_deployment_option_reaches_the_api(fake_codedeploy, aws_env, streams) -> None:
    fake_codedeploy.next_frames = [quick()]
    code = deploy(
        fake_codedeploy,
        aws_env,
        streams,
        *GITHUB,
        "--deployment-config",
        "CodeDeployDefault.OneAtATime",
        "--description",
        "release 42",
        "--file-exists-behavior",
        "overwrite",
        "--ignore-application-stop-failures",
        "--auto-rollback",
        "failure,stop-on-alarm",
        "--update-outdated-instances-only",
        "--no-wait",
    )
    assert code == 0, streams.err
    (body,) = fake_codedeploy.calls_of("CreateDeployment")
    assert body == {
        "applicationName": "web",
        "deploymentGroupName": "prod",
        "revision": {
            "revisionType": "GitHub",
            "gitHubLocation": {"repository": "octo/web", "commitId": "a" * 40},
        },
        "deploymentConfigName": "CodeDeployDefault.OneAtATime",
        "description": "release 42",
        "fileExistsBehavior": "OVERWRITE",
        "ignoreApplicationStopFailures": True,
        "autoRollbackConfiguration": {
            "enabled": True,
            "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
        },
        "updateOutdatedInstancesOnly": True,
    }
    # --no-wait: one look after CreateDeployment, no watching.
    assert len(fake_codedeploy.calls_of("GetDeployment")) == 1
    assert "not waiting: follow it with 'ci-deploy wait d-" in streams.err


def test_ecs_never_gets_file_exists_behavior(fake_codedeploy, aws_env, streams) -> None:
    fake_codedeploy.group_info = {"computePlatform": "ECS"}
    fake_codedeploy.next_frames = [quick()]
    code = deploy(
        fake_codedeploy,
        aws_env,
        streams,
        str(EXAMPLES / "ecs" / "appspec.yaml"),
        "--no-register",
        "--file-exists-behavior",
        "OVERWRITE",
        "--auto-rollback",
        "none",
        "--no-wait",
    )
    assert code == 0, streams.err
    (body,) = fake_codedeploy.calls_of("CreateDeployment")
    assert "fileExistsBehavior" not in body
    assert body["revision"]["revisionType"] == "AppSpecContent"
    assert body["autoRollbackConfiguration"] == {"enabled": False}


def test_description_defaults_to_the_commit_and_run(fake_codedeploy, aws_env, streams) -> None:
    fake_codedeploy.next_frames = [quick()]
    env = {
        **aws_env,
        "GITHUB_SHA": "0123456789abcdef0123",
        "GITHUB_RUN_ID": "77",
        "GITHUB_REPOSITORY": "octo/web",
        "GITHUB_SERVER_URL": "https://github.com",
    }
    code = deploy(fake_codedeploy, env, streams, *GITHUB, "--no-wait")
    assert code == 0, streams.err
    (body,) = fake_codedeploy.calls_of("CreateDeployment")
    assert body["description"] == (
        "ci-deploy: commit 0123456789ab, run https://github.com/octo/web/actions/runs/77"
    )


def test_a_description_over_256_characters_is_bad_input(aws_env, streams) -> None:
    code = cli.run(
        [
            "deploy",
            *GITHUB,
            "--application",
            "web",
            "--deployment-group",
            "prod",
            "--description",
            "x" * 257,
        ],
        aws_env,
        streams,
    )
    assert code == 2
    assert "input description: at most 256 characters, got 257" in streams.err


def test_no_auto_rollback_disables_it_for_this_deployment(
    fake_codedeploy, aws_env, streams
) -> None:
    fake_codedeploy.next_frames = [quick()]
    code = deploy(fake_codedeploy, aws_env, streams, *GITHUB, "--no-auto-rollback", "--no-wait")
    assert code == 0, streams.err
    (body,) = fake_codedeploy.calls_of("CreateDeployment")
    assert body["autoRollbackConfiguration"] == {"enabled": False}


def test_no_auto_rollback_is_the_environment_value_none(fake_codedeploy, aws_env, streams) -> None:
    """Adapters pass the one input auto_rollback; `none` there is --no-auto-rollback."""
    fake_codedeploy.next_frames = [quick()]
    env = {**aws_env, "CI_DEPLOY_AUTO_ROLLBACK": "none"}
    assert deploy(fake_codedeploy, env, streams, *GITHUB, "--no-wait") == 0, streams.err
    (body,) = fake_codedeploy.calls_of("CreateDeployment")
    assert body["autoRollbackConfiguration"] == {"enabled": False}


def test_no_auto_rollback_with_events_is_bad_input_before_any_upload(
    fake_codedeploy, aws_env, streams
) -> None:
    code = deploy(
        fake_codedeploy,
        aws_env,
        streams,
        str(EXAMPLES / "web-app"),
        "--s3-location",
        "s3://never-created/app",
        "--auto-rollback",
        "failure",
        "--no-auto-rollback",
    )
    assert code == 2
    assert (
        "ci-deploy: error: input auto_rollback: 'none' (--no-auto-rollback) cannot be combined "
        "with events"
    ) in streams.err
    assert "hint: pass --no-auto-rollback (or --auto-rollback none) to disable it" in streams.err
    # Refused before the bundle was built, the group read or anything uploaded.
    assert "sha256" not in streams.err
    assert not fake_codedeploy.calls_of("GetDeploymentGroup")
    assert not fake_codedeploy.calls_of("CreateDeployment")


def test_several_regions_need_a_bucket_each(aws_env, streams, tmp_path) -> None:
    code = cli.run(
        [
            "deploy",
            str(EXAMPLES / "web-app"),
            "--application",
            "web",
            "--deployment-group",
            "prod",
            "--s3-location",
            "s3://one-bucket/app",
            "--region",
            "us-east-1,eu-west-1",
        ],
        aws_env,
        streams,
    )
    assert code == 2
    assert "input s3_location: several regions need a bucket per region" in streams.err
    assert "hint: put {region} in --s3-location" in streams.err


BLUE_GREEN = {
    "computePlatform": "Server",
    "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
}


def test_target_instances_for_a_blue_green_group(fake_codedeploy, aws_env, streams) -> None:
    fake_codedeploy.group_info = BLUE_GREEN
    fake_codedeploy.next_frames = [quick()]
    code = deploy(
        fake_codedeploy,
        aws_env,
        streams,
        *GITHUB,
        "--target-instances",
        "asg:web-asg,tag:Role=web",
        "--no-wait",
    )
    assert code == 0, streams.err
    (body,) = fake_codedeploy.calls_of("CreateDeployment")
    assert body["targetInstances"] == {
        "autoScalingGroups": ["web-asg"],
        "tagFilters": [{"Key": "Role", "Value": "web", "Type": "KEY_AND_VALUE"}],
    }


def test_target_instances_refused_for_an_in_place_group(fake_codedeploy, aws_env, streams) -> None:
    code = deploy(fake_codedeploy, aws_env, streams, *GITHUB, "--target-instances", "asg:web-asg")
    assert code == 2
    assert "input target_instances: deployment group 'prod' deploys in place" in streams.err
    assert not fake_codedeploy.calls_of("CreateDeployment")


def test_target_instances_parse_strictly(fake_codedeploy, aws_env, streams) -> None:
    fake_codedeploy.group_info = BLUE_GREEN
    code = deploy(fake_codedeploy, aws_env, streams, *GITHUB, "--target-instances", "web-asg")
    assert code == 2
    assert (
        "input target_instances: expected asg:NAME or tag:KEY=VALUE, got 'web-asg'" in streams.err
    )


def test_sigterm_during_a_parallel_rollout_stops_every_region(fake_codedeploy, aws_env) -> None:
    running = {"i-1": instance_target("i-1", [("Install", "InProgress")])}
    fake_codedeploy.next_frames = [[Frame("InProgress", running)], [Frame("InProgress", running)]]
    argv = [CI_DEPLOY, "deploy", *GITHUB, "--application", "web", "--deployment-group", "prod"]
    done = fake_codedeploy.cancel_when_polled(
        [
            *argv,
            "--endpoint-url",
            fake_codedeploy.endpoint_url,
            "--region",
            "us-east-1,eu-west-1",
            "--rollout",
            "parallel",
        ],
        aws_env,
        polls=2,
    )
    assert done.returncode == 130, done.stderr
    stopped = {body["deploymentId"] for body in fake_codedeploy.calls_of("StopDeployment")}
    assert stopped == set(fake_codedeploy.deployments)
    result = json.loads(done.stdout)
    assert [d["status"] for d in result["deployments"]] == ["Stopped", "Stopped"]


def test_serial_rollout_keeps_the_regions_deployed_when_a_later_create_fails(
    fake_codedeploy, aws_env, streams
) -> None:
    fake_codedeploy.next_frames = [quick()]
    fake_codedeploy.refusals[("CreateDeployment", "eu-west-1")] = (
        "AccessDeniedException",
        "User is not authorized to perform: codedeploy:CreateDeployment",
    )
    code = deploy_to(fake_codedeploy, aws_env, streams, "us-east-1,eu-west-1,ap-south-1")
    # The worst region decides: an AWS error (3) outranks the success before it.
    assert code == 3
    result = json.loads(streams.out)
    assert result["regions"] == ["us-east-1", "eu-west-1"]
    assert result["status"] == "Error"
    first, second = result["deployments"]
    assert first["status"] == "Succeeded"
    assert result["deployment_id"] == first["deployment_id"]
    assert result["deployment_ids"] == {"us-east-1": first["deployment_id"], "eu-west-1": None}
    assert second["deployment_id"] is None
    assert second["console_url"] is None
    assert second["error"]["code"] == "AccessDeniedException"
    assert "CreateDeployment" in second["error"]["message"]
    assert "(eu-west-1)" in second["error"]["message"]
    assert result["skipped_regions"] == ["ap-south-1"]
    err = streams.err
    assert "serial rollout stopped at eu-west-1: not deploying to ap-south-1" in err
    assert "region eu-west-1: no deployment: CreateDeployment" in err
    assert "ci-deploy: error: CreateDeployment" in err
    assert "hint: check the IAM policy" in err
    # us-east-1 created, eu-west-1 refused, ap-south-1 never asked.
    assert len(fake_codedeploy.calls_of("CreateDeployment")) == 2


def test_parallel_rollout_reports_a_region_whose_group_is_missing(
    fake_codedeploy, aws_env, streams
) -> None:
    fake_codedeploy.next_frames = [quick()]
    fake_codedeploy.refusals[("GetDeploymentGroup", "eu-west-1")] = (
        "DeploymentGroupDoesNotExistException",
        "No Deployment Group found for name: prod",
    )
    code = deploy_to(
        fake_codedeploy, aws_env, streams, "us-east-1,eu-west-1", "--rollout", "parallel"
    )
    assert code == 3
    result = json.loads(streams.out)
    statuses = {d["region"]: d["status"] for d in result["deployments"]}
    assert statuses == {"us-east-1": "Succeeded", "eu-west-1": "Error"}
    assert result["skipped_regions"] == []
    assert len(fake_codedeploy.calls_of("CreateDeployment")) == 1
    assert "hint: check --deployment-group, --application and --region" in streams.err


def test_one_region_that_fails_before_creating_has_no_result(
    fake_codedeploy, aws_env, streams
) -> None:
    fake_codedeploy.refusals[("CreateDeployment", "us-east-1")] = (
        "AccessDeniedException",
        "User is not authorized to perform: codedeploy:CreateDeployment",
    )
    code = deploy(fake_codedeploy, aws_env, streams, *GITHUB)
    assert code == 3
    assert streams.out == ""
    assert "ci-deploy: error: CreateDeployment deployment group 'prod'" in streams.err


def test_parallel_rollout_labels_each_line_with_its_region(
    fake_codedeploy, aws_env, streams
) -> None:
    fake_codedeploy.next_frames = [quick(), quick()]
    code = deploy_to(
        fake_codedeploy, aws_env, streams, "us-east-1,eu-west-1", "--rollout", "parallel"
    )
    assert code == 0, streams.err
    ids = json.loads(streams.out)["deployment_ids"]
    lines = streams.err.splitlines()
    for region, did in ids.items():
        assert f"[{region}] created deployment {did}" in lines
        assert f"[{region}] deployment {did}: Succeeded (Succeeded 1)" in lines
        assert f"  [{region}] i-1: Install started" in lines
        assert f"  [{region}] i-1: Install Succeeded in 1.5s" in lines
    # Every progress line names its region.
    progress = [line for line in lines if "i-1" in line or "deployment d-" in line]
    assert progress and all(line.lstrip().startswith("[") for line in progress)


def test_one_region_lines_carry_no_label(fake_codedeploy, aws_env, streams) -> None:
    fake_codedeploy.next_frames = [quick()]
    assert deploy(fake_codedeploy, aws_env, streams, *GITHUB, "--timeout-seconds", "60") == 0
    assert "  i-1: Install started" in streams.err.splitlines()
    assert "[us-east-1]" not in streams.err


GITHUB_DEPLOYMENT = NewDeployment(
    "web",
    "prod",
    {"revisionType": "GitHub", "gitHubLocation": {"repository": "octo/web", "commitId": "a" * 40}},
)


@dataclass
class Started:
    run: RegionRun
    events: list[Event] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def notices(self, level: str | None = None) -> list[str]:
        return [
            e.message
            for e in self.events
            if isinstance(e, Notice) and (level is None or e.level == level)
        ]


def start_without_waiting(fake) -> Started:
    """start_and_follow with --no-wait, over a client that does not retry (so one injected
    fault reaches the core) and with virtual time."""
    events: list[Event] = []
    sleeps: list[float] = []
    run, verdict = start_and_follow(
        CodeDeployApi(fake.client(attempts=1), "us-east-1"),
        GITHUB_DEPLOYMENT,
        DeploymentGroup("web", "prod", "Server"),
        wait_for_active=True,
        watching=WatchOptions(wait=False),
        sink=events.append,
        time_=Timekeeping(clock=lambda: sum(sleeps), sleep=sleeps.append),
    )
    assert verdict is None
    return Started(run, events, sleeps)


def test_no_wait_survives_a_failed_look_at_the_deployment_it_created(fake_codedeploy) -> None:
    fake_codedeploy.faults = {"GetDeployment": ["503"]}
    started = start_without_waiting(fake_codedeploy)
    run = started.run
    assert run.deployment is not None
    (created,) = fake_codedeploy.deployments
    assert (run.deployment.deployment_id, run.deployment.status) == (created, "Created")
    assert run.revision == GITHUB_DEPLOYMENT.revision
    assert started.notices("warning") == [
        f"cannot read deployment {created} yet: GetDeployment deployment {created} (us-east-1): "
        "InternalFailure: service unavailable"
    ]


def test_waiting_for_the_active_deployment_outlasts_a_failed_listing(fake_codedeploy) -> None:
    active = fake_codedeploy.add(quick(), deployment_id="d-ACTIVE0003")
    fake_codedeploy.faults = {"ListDeployments": ["503"]}
    started = start_without_waiting(fake_codedeploy)
    messages = started.notices()
    assert messages[0].startswith("cannot list the active deployments yet: ListDeployments")
    assert f"deployment {active} ended: starting ours" in messages
    assert started.run.deployment is not None
    assert started.run.deployment.deployment_id != active
    assert len(fake_codedeploy.calls_of("ListDeployments")) == 2
    assert started.sleeps[0] == 2.0


def test_a_busy_group_that_lists_no_active_deployment_is_not_waited_on_forever(
    fake_codedeploy,
) -> None:
    fake_codedeploy.refusals[("CreateDeployment", "us-east-1")] = (
        "DeploymentLimitExceededException",
        "The deployment group has an active deployment",
    )
    with pytest.raises(AwsError) as caught:
        start_without_waiting(fake_codedeploy)
    assert caught.value.exit_code == 3
    assert caught.value.message == (
        "CreateDeployment deployment group 'prod' of application 'web' (us-east-1): "
        "DeploymentLimitExceededException: The deployment group has an active deployment "
        "(ListDeployments shows no active deployment in group 'prod' after 11 tries)"
    )
    assert len(fake_codedeploy.calls_of("CreateDeployment")) == 11
    assert len(fake_codedeploy.calls_of("ListDeployments")) == 11


def test_a_name_codedeploy_would_refuse_is_bad_input_before_any_upload(
    fake_codedeploy, aws_env, streams
) -> None:
    for flag, value, name in (
        ("--application", "my app", "application"),
        ("--deployment-group", "g" * 101, "deployment_group"),
        ("--deployment-config", "Half/Time", "deployment_config"),
    ):
        argv = [
            "deploy",
            str(EXAMPLES / "web-app"),
            "--application",
            "web",
            "--deployment-group",
            "prod",
            "--s3-location",
            "s3://bundles-bucket/app",
            "--endpoint-url",
            fake_codedeploy.endpoint_url,
            flag,
            value,
        ]
        assert cli.run(argv, aws_env, streams) == 2
        assert (
            f"ci-deploy: error: input {name}: expected a CodeDeploy name: 1-100 letters, "
            f"digits and . _ + = , @ -, got {value!r}"
        ) in streams.err
    assert "bundle zip" not in streams.err
    assert fake_codedeploy.calls == []


def test_rollback_checks_the_names_too(fake_codedeploy, aws_env, streams) -> None:
    argv = ["rollback", "--application", "wéb", "--deployment-group", "prod"]
    code = cli.run([*argv, "--endpoint-url", fake_codedeploy.endpoint_url], aws_env, streams)
    assert code == 2
    assert "input application: expected a CodeDeploy name" in streams.err
    assert fake_codedeploy.calls == []


def test_a_region_named_twice_is_bad_input(fake_codedeploy, aws_env, streams) -> None:
    code = deploy_to(fake_codedeploy, aws_env, streams, "us-east-1,eu-west-1,us-east-1")
    assert code == 2
    assert "ci-deploy: error: input regions: us-east-1 listed more than once" in streams.err
    assert "hint: name each region once in --region" in streams.err
    argv = ["rollback", "--application", "web", "--deployment-group", "prod"]
    regions = ["--region", "eu-west-1", "--region", "eu-west-1"]
    endpoint = ["--endpoint-url", fake_codedeploy.endpoint_url]
    assert cli.run([*argv, *regions, *endpoint], aws_env, streams) == 2
    assert "input regions: eu-west-1 listed more than once" in streams.err
    assert fake_codedeploy.calls == []
