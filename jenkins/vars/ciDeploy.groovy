// ciDeploy: ship an application with AWS CodeDeploy from a Jenkins pipeline, through the ci-deploy CLI.
//
// Thin on purpose: the caller's map becomes CI_DEPLOY_* environment variables (withEnv), one
// single-quoted `sh` runs `ci-deploy <command>`, and the JSON the CLI prints becomes the Map this
// step returns. No value is ever interpolated into a shell command. Help: vars/ciDeploy.txt.

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonException
import groovy.json.JsonSlurperClassic
import groovy.transform.Field

// The ci-deploy release this library revision installs when no `ci-deploy` is on the agent's
// PATH. A test holds it equal to the package version, so a library tag installs its own CLI.
@Field final String CLI_VERSION = '1.0.0'

// Every key the step takes, with its default. The input keys (all but the last three) are
// ci-deploy's adapter inputs (src/ci_deploy/inputs.py) in camelCase; a contract test holds names
// and defaults to that table. null means "not set": ci-deploy then applies its own default.
// Each input reaches ci-deploy as its environment variable: deploymentGroup is
// CI_DEPLOY_DEPLOYMENT_GROUP; lists are joined with commas.
@Field final Map defaultConfig = [
    // The ci-deploy verb to run. One of: deploy, validate, bundle, push, wait, status, stop,
    // rollback.
    command: 'deploy',
    // Revision directory, appspec file or prebuilt bundle (.zip/.tar/.tgz); local also takes
    // s3://bucket/key[?versionId=...].
    source: '.',
    // The CodeDeploy deployment id (d-XXXXXXXXX).
    deploymentId: null,
    // Compute platform of the appspec; detected from its content when not given. One of: server,
    // ecs, lambda.
    computePlatform: null,
    // AppSpec file name at the revision root (default: appspec.yml, then appspec.yaml).
    appspecFilename: null,
    // Where to write the bundle.
    output: null,
    // Bundle archive type (default: from the output's extension, else zip). One of: zip, tar, tgz.
    bundleType: null,
    // Validate the appspec before bundling.
    validate: true,
    // Extra ignore patterns (gitignore syntax), on top of .codedeployignore.
    exclude: [],
    // Store the content of symlink targets instead of the links.
    followSymlinks: false,
    // CodeDeploy application name.
    application: null,
    // CodeDeploy deployment group name.
    deploymentGroup: null,
    // s3://bucket[/prefix] to upload to, or s3://bucket/key of an existing bundle; {region} is
    // replaced per region.
    s3Location: null,
    // Register the revision with RegisterApplicationRevision.
    register: true,
    // Bundle and upload SOURCE; --no-upload uses the existing object at --s3-location as is (its
    // version and ETag pinned).
    upload: true,
    // Server-side encryption of the uploaded bundle. One of: AES256, aws:kms.
    sse: null,
    // KMS key id or ARN for --sse aws:kms.
    sseKmsKeyId: null,
    // Account id that must own the bucket.
    expectedBucketOwner: null,
    // owner/repo of a GitHub revision (instead of an S3 bundle).
    githubRepository: null,
    // Commit SHA of a GitHub revision.
    commitId: null,
    // ECS task definition ARN substituted into the appspec's TaskDefinition.
    taskDefinition: null,
    // Deployment configuration name (default: the group's).
    deploymentConfig: null,
    // Deployment description, at most 256 characters (default names the commit and CI run).
    description: null,
    // What to do with files on the instance that a previous deployment did not install (Server
    // platform only). One of: DISALLOW, OVERWRITE, RETAIN.
    fileExistsBehavior: null,
    // Carry on when the previous revision's ApplicationStop/BlockTraffic hooks fail.
    ignoreApplicationStopFailures: false,
    // Roll back automatically on these events (none: disable; default: the group's setting). One
    // of: failure, stop-on-alarm, stop-on-request, none.
    autoRollback: [],
    // Deploy only to instances not already running this revision.
    updateOutdatedInstancesOnly: false,
    // Blue/green replacement instances for this deployment: asg:NAME (an Auto Scaling group to
    // copy) or tag:KEY=VALUE (EC2 tag filter); default: the group's setting.
    targetInstances: [],
    // Check the deploy with read-only calls and print the CreateDeployment request of each region;
    // nothing is uploaded, registered or created.
    dryRun: false,
    // Watch the deployment until it ends.
    wait: true,
    // If another deployment is active in the group, wait for it to end, then start.
    waitForActive: true,
    // Give up watching after this many seconds (default: from the group's wait times).
    waitTimeoutSeconds: null,
    // A blue/green deployment waiting for reroute: continue it, wait, or count it a success. One
    // of: continue, wait, succeed.
    onReady: 'wait',
    // Log each target's lifecycle events for fleets up to this many targets; larger fleets get
    // counts and each failed target (and are polled only for the targets that move).
    progressTargets: 20,
    // Stop the deployment when the job is cancelled (SIGINT/SIGTERM).
    stopOnCancel: true,
    // Roll back when the job is cancelled and the deployment is stopped.
    rollbackOnCancel: false,
    // Roll back the instances already updated.
    rollback: false,
    // Deployment id whose revision to redeploy (default: the last successful before current).
    rollbackTo: null,
    // AWS region(s) to deploy to (default: the SDK's region).
    regions: [],
    // With several regions: one after another (stop at the first failure) or all at once. One of:
    // serial, parallel.
    rollout: 'serial',
    // CodeDeploy/S3 endpoint URL (e.g. the ci-deploy emulator).
    endpointUrl: null,
    // Deploy to an embedded ci-deploy emulator started for this command.
    emulator: false,
    // GitHub environment name to report this deployment to (GitHub deployment statuses).
    githubDeployment: null,
    // Token for GitHub deployment statuses. Pass it from withCredentials, never as a literal.
    githubToken: null,
    // Web hooks to notify when a deployment starts and ends, each [slack:|teams:|json:]URL: Slack,
    // Microsoft Teams, or the result as JSON to any other URL (the kind is read from the host when
    // not given). Pass it from withCredentials, never as a literal.
    notify: [],
    // Running EC2 instances the emulator launches in each region, tagged Name=ci-deploy-emulator
    // (the fleet a group made by deploy --emulator selects).
    instances: 3,
    // Pause between lifecycle events, to make progress visible in demos.
    eventDelayMs: 0,
    // Show a traceback on unexpected errors.
    debug: false,
    // -- keys of this step, not of ci-deploy:
    // The hash lock the install checks ci-deploy's dependencies against: 'release' (the lock
    // inside the release), a lock file or its https:// URL (made by scripts/lock), or '' for none.
    installLock: 'release',
    // Package index or mirror (a PEP 503 simple URL) to install from; null: pip's own setting.
    installIndexUrl: null,
    // Shell command that installs ci-deploy instead, when it is not on PATH. It runs with
    // $CI_DEPLOY_INSTALL_DIR (under the workspace's tmp dir, cached between builds) and
    // $CI_DEPLOY_INSTALL_VERSION (this library's CLI_VERSION) set, and must leave an executable
    // $CI_DEPLOY_INSTALL_DIR/bin/ci-deploy behind. null: the release ci-deploy==CLI_VERSION with
    // its dependencies checked against installLock.
    installCommand: null,
    // Path of a ci-deploy executable to run as is (no PATH lookup, no install).
    cliPath: null,
    // Build result when ci-deploy gives up waiting (exit code 4): FAILURE raises an error;
    // UNSTABLE marks the build unstable and returns the result Map. One of: FAILURE, UNSTABLE.
    timeoutResult: 'FAILURE',
]

// The values of the `command` key: ci-deploy's adapter verbs.
@Field final List COMMANDS = ['deploy', 'validate', 'bundle', 'push', 'wait', 'status', 'stop', 'rollback']

@Field final List TIMEOUT_RESULTS = ['FAILURE', 'UNSTABLE']

// Keys of this step itself; every other key is a ci-deploy input.
@Field final List STEP_KEYS = ['installLock', 'installIndexUrl', 'installCommand', 'cliPath', 'timeoutResult']

// Prints the ci-deploy to run: one on PATH as is; else the one cached in $CI_DEPLOY_INSTALL_DIR
// (per ci-deploy version and extra), installed there first when missing or made another way:
// by installCommand, or else as the GitLab template does (install_ci_deploy, the same text in
// both: tests/test_jenkins.py holds them equal). Everything but that path goes to stderr, i.e.
// the build log; a failed install leaves no directory behind.
@Field final String FIND_SCRIPT = '''#!/bin/sh
if command -v ci-deploy; then exit 0; fi
# install_ci_deploy VENV REQUIREMENT LOCK INDEX_URL EXTRA: makes the virtual environment VENV with
# the ci-deploy release REQUIREMENT (ci-deploy==X.Y.Z) and its dependencies, every file checked
# against its hash: the release's own file by the hash of what pip downloaded, the dependencies
# by a lock (LOCK: release, the lock inside that release; a file or an https:// URL of one made
# by scripts/lock; empty: no lock, pip resolves them). INDEX_URL: the package index or mirror
# (empty: pip's own setting). EXTRA: emulator or empty. Messages name the inputs as
# $package_input, $lock_input and $index_input say. A failed install leaves no VENV behind.
install_ci_deploy() {
  venv=$1 package=$2 lock=$3 index=$4 extra=$5
  # The temporary files go whatever happens; VENV stays only when complete.
  work=$(mktemp -d) || return 1
  status=0
  install_steps || status=$?
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then rm -rf "$venv"; fi
  return "$status"
}
run_pip() {
  if [ "$pip_outside" = yes ]; then
    set -- "$python" -m pip --python "$venv/bin/python" "$@"
  else
    set -- "$venv/bin/python" -m pip "$@"
  fi
  if "$@" --disable-pip-version-check >"$work/pip.log" 2>&1; then
    return 0
  fi
  cat "$work/pip.log" >&2
  return 1
}
install_steps() {
  python=$(command -v python3 || command -v python || true)
  if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "ci-deploy: error: installing ci-deploy needs Python 3.10 or newer as python3 on PATH; install it, or put ci-deploy on PATH" >&2
    return 2
  fi
  started=$(date +%s)
  # The image's pip installs into the new environment when it can (pip --python, 22.3 and
  # later): no pip of its own to install there first, which takes longer than the rest.
  "$python" -m venv --without-pip "$venv" || return 1
  pip_outside=no
  if "$python" -c 'import sys, pip; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))' 2>/dev/null; then
    pip_outside=yes
  elif ! "$venv/bin/python" -m ensurepip --default-pip >"$work/pip.log" 2>&1; then
    cat "$work/pip.log" >&2
    echo "ci-deploy: error: installing ci-deploy needs pip (22.3 or later) or the venv module with ensurepip for $python; install one of them, or put ci-deploy on PATH" >&2
    return 2
  fi
  if [ -n "$index" ]; then
    PIP_INDEX_URL=$index
    export PIP_INDEX_URL
  fi
  if ! run_pip download --quiet --no-deps --dest "$work/release" "$package"; then
    if grep -q "No matching distribution found" "$work/pip.log"; then
      echo "ci-deploy: error: $package_input: the package index (${PIP_INDEX_URL:-as pip is set up}) has no $package; name a released version (pip lists the versions it found above)" >&2
      return 2
    fi
    echo "ci-deploy: error: downloading $package failed (pip's output above); check that the package index is reachable ($index_input)" >&2
    return 1
  fi
  set -- "$work/release"/*
  release=$1
  # The lock inside the release (wheel or sdist), and the requirement of the release's own file.
  if ! "$python" - "$release" "$lock" "${extra:-runtime}" "$work" <<'PY'
import hashlib, pathlib, sys, tarfile, zipfile
release, lock, name, work = pathlib.Path(sys.argv[1]).resolve(), *sys.argv[2:]
member = "ci_deploy/lock/" + name + ".txt"
if lock == "release":
    try:
        if release.suffix == ".whl":
            text = zipfile.ZipFile(release).read(member)
        else:
            with tarfile.open(release) as archive:
                [found] = [m for m in archive.getmembers() if m.name.endswith("/src/" + member)]
                text = archive.extractfile(found).read()
    except (KeyError, ValueError, AttributeError, OSError, zipfile.BadZipFile, tarfile.TarError):
        sys.exit(3)
    pathlib.Path(work, "lock.txt").write_bytes(text)
line = "ci-deploy" + ("[" + name + "]" if name != "runtime" else "") + " @ " + release.as_uri()
if lock:
    line += " --hash=sha256:" + hashlib.sha256(release.read_bytes()).hexdigest()
pathlib.Path(work, "release.txt").write_text(line + chr(10))
PY
  then
    echo "ci-deploy: error: $lock_input: $(basename "$release") has no lock (${extra:-runtime}.txt) inside; set $lock_input to a lock made for it by scripts/lock, or empty for none" >&2
    return 2
  fi
  case $lock in
    release) set -- --require-hashes -r "$work/lock.txt" ;;
    '') set -- ;;
    http://* | https://*) set -- --require-hashes -r "$lock" ;;
    *)
      if [ ! -f "$lock" ]; then
        echo "ci-deploy: error: $lock_input: no file $lock; give release, a lock file, an https:// URL of one, or nothing" >&2
        return 2
      fi
      set -- --require-hashes -r "$lock"
      ;;
  esac
  # Without byte-compiling everything now: the CLI compiles what it imports when it runs.
  if ! run_pip install --quiet --no-compile "$@" -r "$work/release.txt"; then
    what="$(basename "$release")${lock:+ with the lock $lock}"
    if grep -q "DO NOT MATCH THE HASHES" "$work/pip.log"; then
      echo "ci-deploy: error: $lock_input: a file from the package index does not match its hash in the lock (pip names it above): the index ($index_input) serves other files than the lock was made from; use an index with those files, or a lock made against this one" >&2
      return 2
    fi
    unmet='missing from some requirements|must have their versions pinned|ResolutionImpossible|No matching distribution found'
    if grep -q -E "$unmet" "$work/pip.log"; then
      echo "ci-deploy: error: $lock_input: the lock does not satisfy the requirements of $what (pip says which above); use the release's lock (release) or one made for this release by scripts/lock" >&2
      return 2
    fi
    echo "ci-deploy: error: installing $what failed (pip's output above)" >&2
    return 1
  fi
  echo "Installed $("$venv/bin/ci-deploy" --version)${lock:+ (dependencies checked against the lock $lock)} in $(($(date +%s) - started))s" >&2
}
stamp="$CI_DEPLOY_INSTALL_DIR/.installed-by-ciDeploy"
want=$(printf '%s\\n' "$CI_DEPLOY_INSTALL_VERSION" "$CI_DEPLOY_INSTALL_COMMAND" \\
  "$CI_DEPLOY_INSTALL_LOCK" "$CI_DEPLOY_INSTALL_INDEX_URL" "$CI_DEPLOY_INSTALL_EXTRA")
cached() {
  [ -x "$CI_DEPLOY_INSTALL_DIR/bin/ci-deploy" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]
}
if ! cached; then
  mkdir -p "${CI_DEPLOY_INSTALL_DIR%/*}" || exit 1
  # Parallel branches on one agent share the cache: one installs, the others wait for it.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CI_DEPLOY_INSTALL_DIR.lock" && flock 9
  fi
  if ! cached; then
    echo "ciDeploy: ci-deploy is not on PATH; installing ci-deploy $CI_DEPLOY_INSTALL_VERSION into $CI_DEPLOY_INSTALL_DIR" >&2
    rm -rf "$CI_DEPLOY_INSTALL_DIR"
    if [ -n "$CI_DEPLOY_INSTALL_COMMAND" ]; then
      ( eval "$CI_DEPLOY_INSTALL_COMMAND" ) >&2 || {
        status=$?
        rm -rf "$CI_DEPLOY_INSTALL_DIR"
        echo "ciDeploy: installCommand failed with exit code $status" >&2
        exit 1
      }
      if [ ! -x "$CI_DEPLOY_INSTALL_DIR/bin/ci-deploy" ]; then
        rm -rf "$CI_DEPLOY_INSTALL_DIR"
        echo "ciDeploy: installCommand succeeded but left no executable $CI_DEPLOY_INSTALL_DIR/bin/ci-deploy" >&2
        exit 1
      fi
    else
      package_input="the library revision (load a release tag of it, @Library('ci-deploy@vX.Y.Z'))"
      lock_input="key installLock" index_input="key installIndexUrl"
      install_ci_deploy "$CI_DEPLOY_INSTALL_DIR" "ci-deploy==$CI_DEPLOY_INSTALL_VERSION" \\
        "$CI_DEPLOY_INSTALL_LOCK" "$CI_DEPLOY_INSTALL_INDEX_URL" "$CI_DEPLOY_INSTALL_EXTRA" >&2 || exit $?
    fi
    printf '%s' "$want" >"$stamp"
  fi
fi
printf '%s\\n' "$CI_DEPLOY_INSTALL_DIR/bin/ci-deploy"
'''

// `exec`: when the build is aborted, Jenkins signals this process, which by then is ci-deploy
// itself, so it stops the deployment it is watching before it exits. stdout (the result JSON)
// goes to a file; stderr (progress and diagnostics) to the build log.
@Field final String RUN_SCRIPT = '''#!/bin/sh
mkdir -p "$CI_DEPLOY_STEP_DIR" || exit 1
exec "$CI_DEPLOY_STEP_CLI" "$CI_DEPLOY_COMMAND" >"$CI_DEPLOY_STEP_DIR/result.json"
'''

/**
 * Runs `ci-deploy <command>` with the given keys (see vars/ciDeploy.txt) and returns a Map:
 * deploymentId, status, deploymentUrl, deploymentIds, revision, result (the whole result JSON)
 * and output (the CLI's raw stdout).
 */
def call(Map config = [:]) {
    String problem = configProblem(config)
    if (problem) {
        error(problem)
    }
    Map settings = [:]
    settings.putAll(defaultConfig)
    settings.putAll(config)
    String command = settings.command
    String tmp = pwd(tmp: true)
    String stepDir = tmp + '/ci-deploy-' + UUID.randomUUID()
    int code
    String output = ''
    try {
        withEnv(environmentFor(settings) + ['CI_DEPLOY_STEP_DIR=' + stepDir]) {
            String cli = settings.cliPath
            if (!cli) {
                // One cached environment per ci-deploy version and extra.
                String extra = String.valueOf(settings.emulator) == 'true' ? 'emulator' : ''
                List install = [
                    'CI_DEPLOY_INSTALL_DIR=' + tmp + '/ci-deploy-' + CLI_VERSION + (extra ? '-' + extra : ''),
                    'CI_DEPLOY_INSTALL_VERSION=' + CLI_VERSION,
                    'CI_DEPLOY_INSTALL_COMMAND=' + (settings.installCommand ?: ''),
                    'CI_DEPLOY_INSTALL_LOCK=' + (settings.installLock ?: ''),
                    'CI_DEPLOY_INSTALL_INDEX_URL=' + (settings.installIndexUrl ?: ''),
                    'CI_DEPLOY_INSTALL_EXTRA=' + extra,
                ]
                withEnv(install) {
                    cli = sh(label: 'find or install ci-deploy', returnStdout: true, script: FIND_SCRIPT).trim()
                }
            }
            withEnv(['CI_DEPLOY_STEP_CLI=' + cli]) {
                code = sh(label: 'ci-deploy ' + command, returnStatus: true, script: RUN_SCRIPT)
            }
            if (fileExists(stepDir + '/result.json')) {
                output = readFile(file: stepDir + '/result.json', encoding: 'UTF-8')
            }
        }
    } finally {
        dir(stepDir) {
            deleteDir()
        }
    }
    Map outputs = outputsFrom(output)
    if (code == 0) {
        return outputs
    }
    String message = failureMessage(command, code, outputs.result, settings.cliPath)
    if (code == 4 && settings.timeoutResult == 'UNSTABLE') {
        unstable(message)
        return outputs
    }
    error(message)
}

// Null when the caller's map is usable, else the message to fail with.
@NonCPS
private String configProblem(Map config) {
    List unknown = config.keySet().findAll { !defaultConfig.containsKey(it) }.collect { String.valueOf(it) }
    if (unknown) {
        List named = unknown.collect { key ->
            Object near = defaultConfig.keySet().min { distance(normalized(it), normalized(key)) }
            distance(normalized(near), normalized(key)) <= 2 ? "'${key}' (did you mean '${near}'?)" : "'${key}'"
        }
        return "ciDeploy: unknown key${unknown.size() == 1 ? '' : 's'} ${named.join(', ')}. " +
            "Valid keys: ${defaultConfig.keySet().join(', ')}. vars/ciDeploy.txt describes each."
    }
    for (entry in config) {
        Object value = entry.value
        boolean scalar = value == null || value instanceof CharSequence || value instanceof Boolean || value instanceof Number
        boolean list = value instanceof Collection && value.every { it instanceof CharSequence || it instanceof Number }
        if (!scalar && !list) {
            return "ciDeploy: key ${entry.key}: expected a string, boolean, number or list of strings, " +
                "got ${value.getClass().simpleName} ${value}"
        }
    }
    if (config.containsKey('command') && !COMMANDS.contains(String.valueOf(config.command))) {
        return "ciDeploy: key command: expected one of ${COMMANDS.join(', ')}, got '${config.command}'"
    }
    if (config.containsKey('timeoutResult') && !TIMEOUT_RESULTS.contains(String.valueOf(config.timeoutResult))) {
        return "ciDeploy: key timeoutResult: expected one of ${TIMEOUT_RESULTS.join(', ')}, got '${config.timeoutResult}'"
    }
    return null
}

// deployment_group, deployment-group and DeploymentGroup all suggest deploymentGroup.
@NonCPS
private static String normalized(Object key) {
    String.valueOf(key).replaceAll(/[-_]/, '').toLowerCase()
}

// Edit distance, so a typo (aplication) suggests the key it misspells.
@NonCPS
private static int distance(String from, String to) {
    int[] previous = (0..to.length()) as int[]
    for (int i = 1; i <= from.length(); i++) {
        int[] current = new int[to.length() + 1]
        current[0] = i
        for (int j = 1; j <= to.length(); j++) {
            int substitution = previous[j - 1] + (from.charAt(i - 1) == to.charAt(j - 1) ? 0 : 1)
            current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1)
        }
        previous = current
    }
    return previous[to.length()]
}

// NAME=value entries for withEnv: each input that has a value, as ci-deploy's environment variable.
@NonCPS
private List environmentFor(Map settings) {
    List environment = [
        // The CLI-only inputs an adapter sets itself: render for Jenkins, result JSON on stdout.
        'CI_DEPLOY_CI_SYSTEM=jenkins',
        'CI_DEPLOY_JSON=true',
    ]
    settings.each { key, value ->
        String text = envText(value)
        if (!STEP_KEYS.contains(key) && text) {
            environment << envName(key) + '=' + text
        }
    }
    return environment
}

// deploymentGroup -> CI_DEPLOY_DEPLOYMENT_GROUP
@NonCPS
private static String envName(Object key) {
    'CI_DEPLOY_' + String.valueOf(key).replaceAll(/([A-Z])/, '_$1').toUpperCase()
}

// A value as ci-deploy parses it from its environment variable: lists comma-separated, null unset.
@NonCPS
private static String envText(Object value) {
    if (value == null) {
        return null
    }
    if (value instanceof Collection) {
        return value.collect { String.valueOf(it) }.join(',')
    }
    return String.valueOf(value)
}

// The Map the step returns, from the CLI's stdout: its result JSON (empty for some commands).
// JsonSlurperClassic, not JsonSlurper: its maps are plain HashMaps, which a CPS pipeline can
// serialize across steps (JsonSlurper's lazy maps are not serializable).
@NonCPS
private static Map outputsFrom(String output) {
    Map result = null
    String text = output.trim()
    if (text.startsWith('{')) {
        try {
            result = (Map) new JsonSlurperClassic().parseText(text)
        } catch (JsonException ignored) {
            result = null
        }
    }
    return [
        deploymentId : result?.deployment_id,
        status       : result?.status,
        deploymentUrl: result?.console_url,
        deploymentIds: result?.deployment_ids ?: [:],
        revision     : result?.revision,
        result       : result,
        output       : output,
    ]
}

// The error/unstable message: what ended how, plus the failing lifecycle events' diagnostics
// (ci-deploy has printed the full story, log tails included, to the build log above).
@NonCPS
private static String failureMessage(String command, int code, Map result, Object cliPath) {
    String what = result?.deployment_id ? "deployment ${result.deployment_id}" : "ci-deploy ${command}"
    String reason
    switch (code) {
        case 1:
            reason = "ended ${result?.status ?: 'Failed'}"
            break
        case 2:
            reason = 'was given bad input (exit code 2)'
            break
        case 3:
            reason = 'failed on an AWS API error (exit code 3)'
            break
        case 4:
            reason = "was still ${result?.status ?: 'running'} when ci-deploy gave up waiting (exit code 4); it may still finish"
            break
        case 5:
            reason = 'hit an unexpected error in ci-deploy (exit code 5, a bug: rerun with debug: true and report it)'
            break
        case 126:
        case 127:
            reason = "could not start: nothing runnable at '${cliPath ?: 'the ci-deploy found'}' (exit code ${code})"
            break
        case 130:
            reason = 'was interrupted (exit code 130)'
            break
        default:
            reason = "ended with exit code ${code}"
    }
    List lines = ["ciDeploy: ${what} ${reason}".toString()]
    if (result?.error?.message) {
        lines << "  ${result.error.code ?: 'error'}: ${result.error.message}".toString()
    }
    List failed = []
    for (target in (result?.targets ?: [])) {
        for (event in (target.lifecycle_events ?: [])) {
            if (event.status == 'Failed') {
                Map diagnostics = event.diagnostics ?: [:]
                String script = diagnostics.script_name ? " in ${diagnostics.script_name}" : ''
                failed << "  ${target.target_id} ${event.name}: ${diagnostics.error_code ?: 'Failed'}${script}: ${diagnostics.message ?: ''}".toString()
            }
        }
    }
    lines.addAll(failed.take(5))
    if (failed.size() > 5) {
        lines << "  ... and ${failed.size() - 5} more failed lifecycle events".toString()
    }
    if (code != 4) {
        lines << "  ci-deploy's own output is in the log above."
    }
    return lines.join('\n')
}
