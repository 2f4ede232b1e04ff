#!/usr/bin/env python3
"""Runs the README's Walkthrough against a fresh `berth up` and checks what it prints.

The commands are not copied here: they are read from README.md, so the README and this check
cannot drift apart. Rules, all inside the section headed `## Walkthrough` (up to the next `## `):

- every fenced block tagged ```sh is run, one logical command at a time (a line ending in `\\`
  continues on the next; blank lines and `# comments` are skipped), in README order, from the
  repository root, through `bash -o pipefail -c`;
- `export NAME=VALUE ...` lines set the environment of the commands after them (the only shell
  state carried from one command to the next);
- the README's endpoint, 127.0.0.1:4566 (or localhost:4566), is rewritten to the address of the
  `berth up` this check starts on a free port with an empty data directory (control plane, cluster
  `default`, and an agent on the local Docker Engine);
- the image the README's tasks use, busybox:latest, is made locally from Debian's busybox-static
  when Docker does not have it (CI cannot pull from Docker Hub; the agent's default pull
  behaviour falls back to the cached image when a pull fails, as ECS's does);
- each command must exit 0, except the last command of a ```sh block that is followed by a
  ```text block starting `An error occurred (CODE)`: that one must fail and print that line;
- a ```json block after a ```sh block is output its last command must print: every key shown
  must be there with the value shown (keys not shown are not compared; lists must have the same
  length and match element by element);
- besides, the facts below (cluster ARN, revision 1, tags round-trip, INACTIVE after delete, ...)
  are checked per ECS operation, and the operations a newcomer is promised must all appear.

Usage: walkthrough.py --berth PATH [--aws-dir DIR] [README.md]
"""
import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REGION = "us-east-1"
ACCOUNT = "000000000000"
CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/demo"
TASK_DEF_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1"
README_ENDPOINTS = ("127.0.0.1:4566", "localhost:4566")

# The operations the walkthrough promises a newcomer; the check fails if one goes missing.
REQUIRED = [
    "create-cluster", "list-clusters", "describe-clusters", "register-task-definition",
    "describe-task-definition", "list-task-definitions", "tag-resource", "list-tags-for-resource",
    "deregister-task-definition", "delete-cluster", "list-container-instances", "run-task",
    "describe-tasks", "stop-task",
]

# The image of examples/hello-task.json, and the busybox applets its command and a newcomer's
# experiments use.
WALKTHROUGH_IMAGE = "busybox:latest"
BUSYBOX_BINARY = "/bin/busybox"


class CheckFailed(Exception):
    pass


def fail(message):
    raise CheckFailed(message)


# ---------------------------------------------------------------- README parsing

class Step:
    def __init__(self, command, line):
        self.command = command          # as written in the README (continuations joined)
        self.line = line                # README line number of its first line
        self.expect_error = None        # (code, full documented line) when it must fail
        self.expect_json = None         # documented output it must contain


def walkthrough_section(lines):
    start = None
    for i, line in enumerate(lines):
        if start is None and re.match(r"^##\s+Walkthrough\b", line):
            start = i + 1
        elif start is not None and re.match(r"^##\s", line):
            return start, i
    if start is None:
        fail("README has no '## Walkthrough' section")
    return start, len(lines)


def fenced_blocks(lines, start, end):
    """(lang, body lines, line number of the first body line) of each fenced block."""
    blocks, i = [], start
    while i < end:
        m = re.match(r"^(\s*)(```+|~~~+)\s*([\w+-]*)", lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(2), m.group(3).lower()
        body, j = [], i + 1
        while j < end and not lines[j].strip().startswith(fence):
            body.append(lines[j])
            j += 1
        if j >= end:
            fail(f"README line {i + 1}: fenced block is not closed inside the Walkthrough section")
        blocks.append((lang, body, i + 2))
        i = j + 1
    return blocks


def logical_commands(body, first_line):
    commands, current, current_line = [], "", None
    for offset, raw in enumerate(body):
        line = raw.rstrip()
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if current_line is None:
            current_line = first_line + offset
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        current += line.strip()
        commands.append(Step(current, current_line))
        current, current_line = "", None
    if current:
        fail(f"README line {current_line}: command ends with a line continuation")
    return commands


def parse_walkthrough(readme):
    with open(readme, encoding="utf-8") as f:
        lines = f.read().split("\n")
    start, end = walkthrough_section(lines)
    steps, last_block_steps = [], None
    for lang, body, first_line in fenced_blocks(lines, start, end):
        if lang in ("sh", "bash", "shell", "console"):
            if lang != "sh":
                fail(f"README line {first_line - 1}: tag walkthrough commands ```sh (found ```{lang})")
            block_steps = logical_commands(body, first_line)
            if not block_steps:
                fail(f"README line {first_line - 1}: empty ```sh block")
            steps.extend(block_steps)
            last_block_steps = block_steps
            continue
        text = "\n".join(body).strip()
        if last_block_steps is None:
            continue  # output shown before any command: nothing to attach it to
        target = last_block_steps[-1]
        if lang == "json":
            try:
                target.expect_json = json.loads(text)
            except json.JSONDecodeError as e:
                fail(f"README line {first_line}: ```json block is not valid JSON: {e}")
        elif lang in ("text", ""):
            first = text.split("\n", 1)[0].strip()
            m = re.match(r"^An error occurred \((\w+)\)", first)
            if m:
                target.expect_error = (m.group(1), first)
        last_block_steps = None  # one output block per command block
    if not steps:
        fail("the Walkthrough section has no ```sh blocks")
    return steps


# ---------------------------------------------------------------- the server

def ensure_image():
    """Makes busybox:latest from Debian's busybox-static unless Docker already has the image."""
    if subprocess.run(["docker", "image", "inspect", WALKTHROUGH_IMAGE], capture_output=True).returncode == 0:
        return
    expect(os.path.exists(BUSYBOX_BINARY),
           f"{BUSYBOX_BINARY} is missing: apt-get install busybox-static (the walkthrough's task image is built from it)")
    import io
    import tarfile
    applets = subprocess.run([BUSYBOX_BINARY, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(BUSYBOX_BINARY, arcname="bin/busybox")
        for name in ("tmp", "www"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777
            tar.addfile(info)
        for applet in applets:
            if applet == "busybox":
                continue
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
    result = subprocess.run(["docker", "import", "--change", 'CMD ["sh"]', "-", WALKTHROUGH_IMAGE],
                            input=buffer.getvalue(), capture_output=True)
    expect(result.returncode == 0, f"docker import of {WALKTHROUGH_IMAGE} failed: {result.stderr.decode()}")
    print(f"walkthrough: made {WALKTHROUGH_IMAGE} from Debian's busybox-static (no registry is reachable)")


def remove_task_containers(task_arns):
    """Removes the containers of the walkthrough's tasks, which the agent keeps for its cleanup wait."""
    for arn in task_arns:
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.amazonaws.ecs.task-arn={arn}"],
                             capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


class Server:
    def __init__(self, berth, workdir):
        self.data_dir = os.path.join(workdir, "data")
        self.stdout_path = os.path.join(workdir, "server.stdout")
        self.stderr_path = os.path.join(workdir, "server.stderr")
        self.proc = None
        self.addr = None
        self.berth = berth

    def start(self):
        env = dict(os.environ)
        for name in [n for n in env if n.startswith("BERTH_")]:
            env.pop(name, None)
        env.setdefault("RUST_LOG", "warn,berth=info")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [self.berth, "up", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir, "--metadata-port", "0"],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        while self.addr is None:
            with open(self.stdout_path, encoding="utf-8", errors="replace") as f:
                m = re.search(r"ECS API:\s+http://(\S+)", f.read())
            if m:
                self.addr = m.group(1)
                break
            self._check_alive("before it printed its address")
            if time.monotonic() > deadline:
                fail("berth up did not print 'ECS API: http://...' within 60 s")
            time.sleep(0.05)
        while True:
            try:
                with urllib.request.urlopen(f"http://{self.addr}/health", timeout=2) as r:
                    if r.status == 200:
                        return json.load(r)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            self._check_alive("before /health answered")
            if time.monotonic() > deadline:
                fail(f"GET http://{self.addr}/health did not answer 200 within 60 s")
            time.sleep(0.1)

    def _check_alive(self, when):
        if self.proc.poll() is not None:
            fail(f"berth up exited with status {self.proc.returncode} {when}:\n{self.log()}")

    def log(self):
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM and wait for a clean exit; returns the exit status (None if it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


# ---------------------------------------------------------------- per-operation checks

def subset_mismatch(expected, actual, path="$"):
    """Where `actual` does not contain `expected` (see the module doc), or None."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {json.dumps(actual)[:200]}"
        for key, value in expected.items():
            if key not in actual:
                return f"{path}.{key}: missing"
            where = subset_mismatch(value, actual[key], f"{path}.{key}")
            if where:
                return where
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{path}: expected {json.dumps(expected)[:300]}, got {json.dumps(actual)[:300]}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            where = subset_mismatch(e, a, f"{path}[{i}]")
            if where:
                return where
        return None
    if expected != actual:
        return f"{path}: expected {json.dumps(expected)}, got {json.dumps(actual)}"
    return None


def expect(condition, message):
    if not condition:
        fail(message)


def tag_set(tags):
    return {(t["key"], t["value"]) for t in tags or []}


def cli_option(argv, name):
    """The values after `--name` up to the next option, or None when absent."""
    if name not in argv:
        return None
    values = []
    for token in argv[argv.index(name) + 1:]:
        if token.startswith("--"):
            break
        values.append(token)
    return values


def shorthand_tags(values):
    """AWS CLI shorthand `key=a,value=b ...` to a set of (key, value)."""
    tags = set()
    for value in values or []:
        fields = dict(part.split("=", 1) for part in value.split(","))
        tags.add((fields["key"], fields["value"]))
    return tags


class Checker:
    def __init__(self):
        self.seen = []                  # operations that ran as expected, in order
        self.tags = {}                  # resource ARN -> set of (key, value) we expect
        self.registered = None          # taskDefinition as RegisterTaskDefinition returned it
        self.task_arns = []             # tasks RunTask started
        self.cluster_deleted = False
        self.task_def_deregistered = False

    def check(self, op, argv, out):
        handler = getattr(self, "op_" + op.replace("-", "_"), None)
        if handler:
            handler(argv, out)
        self.seen.append(op)

    def op_create_cluster(self, argv, out):
        c = out["cluster"]
        expect(c["clusterArn"] == CLUSTER_ARN, f"clusterArn is {c['clusterArn']}, want {CLUSTER_ARN}")
        expect(c["status"] == "ACTIVE", f"new cluster is {c['status']}, want ACTIVE")
        want = shorthand_tags(cli_option(argv, "--tags"))
        expect(tag_set(c.get("tags")) == want, f"create-cluster returned tags {c.get('tags')}, want {sorted(want)}")
        self.tags[CLUSTER_ARN] = want

    def op_list_clusters(self, argv, out):
        present = CLUSTER_ARN in out["clusterArns"]
        expect(present != self.cluster_deleted,
               f"list-clusters {'lists' if present else 'does not list'} {CLUSTER_ARN}: {out['clusterArns']}")

    def op_describe_clusters(self, argv, out):
        expect(out.get("failures") == [], f"describe-clusters failures: {out.get('failures')}")
        expect(len(out["clusters"]) == 1, f"describe-clusters returned {len(out['clusters'])} clusters, want 1")
        c = out["clusters"][0]
        expect(c["clusterArn"] == CLUSTER_ARN, f"clusterArn is {c['clusterArn']}")
        want_status = "INACTIVE" if self.cluster_deleted else "ACTIVE"
        expect(c["status"] == want_status, f"cluster status is {c['status']}, want {want_status}")
        if self.cluster_deleted:
            self.seen.append("describe-clusters-after-delete")
        elif "TAGS" in (cli_option(argv, "--include") or []):
            expect(tag_set(c.get("tags")) == self.tags[CLUSTER_ARN],
                   f"describe-clusters tags {c.get('tags')}, want {sorted(self.tags[CLUSTER_ARN])}")

    def op_register_task_definition(self, argv, out):
        td = out["taskDefinition"]
        source = None
        for token in argv:
            if token.startswith("file://"):
                with open(os.path.join(ROOT, token[len("file://"):]), encoding="utf-8") as f:
                    source = json.load(f)
        expect(source is not None, "register-task-definition should read --cli-input-json file://...")
        # Registering a file again makes the family's next revision (the service part does).
        revisions = self.__dict__.setdefault("revisions", {})
        revision = revisions[source["family"]] = revisions.get(source["family"], 0) + 1
        want_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{source['family']}:{revision}"
        expect(td["taskDefinitionArn"] == want_arn, f"taskDefinitionArn is {td['taskDefinitionArn']}, want {want_arn}")
        expect(td["family"] == source["family"] and td["revision"] == revision,
               f"registered {td['family']}:{td['revision']}, want {source['family']}:{revision}")
        expect(td["status"] == "ACTIVE", f"new task definition is {td['status']}")
        expect(td.get("networkMode") == source.get("networkMode"), f"networkMode is {td.get('networkMode')}")
        want_names = [c["name"] for c in source["containerDefinitions"]]
        got_names = [c["name"] for c in td["containerDefinitions"]]
        expect(got_names == want_names, f"containers {got_names}, want {want_names}")
        for want, got in zip(source["containerDefinitions"], td["containerDefinitions"]):
            for field in ("image", "healthCheck", "dependsOn", "portMappings", "links", "command"):
                if field in want:
                    where = subset_mismatch(want[field], got.get(field), f"{want['name']}.{field}")
                    expect(where is None, f"container definition did not round-trip: {where}")
        expect(tag_set(out.get("tags")) == tag_set(source.get("tags")),
               f"register-task-definition returned tags {out.get('tags')}, want {source.get('tags')}")
        if want_arn == TASK_DEF_ARN:
            self.registered = td
        self.tags[want_arn] = tag_set(source.get("tags"))

    def op_describe_task_definition(self, argv, out):
        td = out["taskDefinition"]
        expect(self.registered is not None, "describe-task-definition ran before register-task-definition")
        if not self.task_def_deregistered:
            expect(td == self.registered,
                   "describe-task-definition differs from what register-task-definition returned: "
                   + str(subset_mismatch(self.registered, td)))
        if "TAGS" in (cli_option(argv, "--include") or []):
            expect(tag_set(out.get("tags")) == self.tags[TASK_DEF_ARN],
                   f"task definition tags {out.get('tags')}, want {sorted(self.tags[TASK_DEF_ARN])}")

    def op_list_task_definitions(self, argv, out):
        if cli_option(argv, "--status") in (None, ["ACTIVE"]):
            present = TASK_DEF_ARN in out["taskDefinitionArns"]
            expect(present != self.task_def_deregistered,
                   f"list-task-definitions {'lists' if present else 'does not list'} {TASK_DEF_ARN}: {out['taskDefinitionArns']}")

    def op_tag_resource(self, argv, out):
        arn = cli_option(argv, "--resource-arn")[0]
        self.tags.setdefault(arn, set()).update(shorthand_tags(cli_option(argv, "--tags")))

    def op_untag_resource(self, argv, out):
        arn = cli_option(argv, "--resource-arn")[0]
        keys = set(cli_option(argv, "--tag-keys") or [])
        self.tags[arn] = {t for t in self.tags.get(arn, set()) if t[0] not in keys}

    def op_list_tags_for_resource(self, argv, out):
        arn = cli_option(argv, "--resource-arn")[0]
        want = self.tags.get(arn, set())
        expect(tag_set(out["tags"]) == want, f"tags of {arn} are {out['tags']}, want {sorted(want)}")

    def op_deregister_task_definition(self, argv, out):
        td = out["taskDefinition"]
        expect(td["taskDefinitionArn"] == TASK_DEF_ARN, f"deregistered {td['taskDefinitionArn']}")
        expect(td["status"] == "INACTIVE", f"deregistered task definition is {td['status']}, want INACTIVE")
        self.task_def_deregistered = True

    def op_list_container_instances(self, argv, out):
        arns = out["containerInstanceArns"]
        expect(len(arns) == 1, f"berth up should register this host as one container instance, got {arns}")

    def op_run_task(self, argv, out):
        expect(out.get("failures") == [], f"run-task failed to place: {out.get('failures')}")
        tasks = out["tasks"]
        expect(len(tasks) == 1, f"run-task started {len(tasks)} tasks, want 1")
        expect(tasks[0]["desiredStatus"] == "RUNNING", f"new task wants {tasks[0]['desiredStatus']}")
        self.task_arns.append(tasks[0]["taskArn"])

    def op_stop_task(self, argv, out):
        expect(out["task"]["desiredStatus"] == "STOPPED", f"stopped task wants {out['task']['desiredStatus']}")

    def op_delete_cluster(self, argv, out):
        c = out["cluster"]
        expect(c["clusterArn"] == CLUSTER_ARN, f"deleted {c['clusterArn']}")
        expect(c["status"] == "INACTIVE", f"deleted cluster is {c['status']}, want INACTIVE")
        self.cluster_deleted = True


# ---------------------------------------------------------------- running

def indent(text):
    return "".join("    " + line + "\n" for line in text.strip("\n").split("\n")) if text.strip() else ""


def aws_operation(command):
    m = re.search(r"(?:^|[\s;&|(])aws\s+ecs\s+([a-z0-9-]+)", command)
    return m.group(1) if m else None


def base_env(workdir, aws_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # Never read the developer's own AWS profile, credentials or defaults.
    env["AWS_CONFIG_FILE"] = os.path.join(workdir, "no-aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(workdir, "no-aws-credentials")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_PAGER"] = ""
    if aws_dir:
        env["PATH"] = os.path.abspath(aws_dir) + os.pathsep + env.get("PATH", "")
    return env


def run(steps, berth, aws_dir):
    checker = Checker()
    errors_documented = sum(1 for s in steps if s.expect_error)
    expect(errors_documented >= 1,
           "the Walkthrough documents no error (a ```text block 'An error occurred (Code) ...' after a command)")
    with tempfile.TemporaryDirectory(prefix="berth-walkthrough-") as workdir:
        server = Server(berth, workdir)
        stopping = {"signal": None}

        def on_signal(signum, _frame):
            stopping["signal"] = signum
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGHUP, on_signal)
        try:
            ensure_image()
            health = server.start()
            url = f"http://{server.addr}"
            print(f"walkthrough: {berth} up on {url} (data dir {server.data_dir}), /health: {json.dumps(health)}")
            print(f"walkthrough: {len(steps)} commands from README.md; 127.0.0.1:4566 is rewritten to {server.addr}\n",
                  flush=True)
            env = base_env(workdir, aws_dir)
            for n, step in enumerate(steps, 1):
                command = step.command
                for endpoint in README_ENDPOINTS:
                    command = command.replace(endpoint, server.addr)
                print(f"[{n}/{len(steps)}] README.md:{step.line}\n$ {step.command}", flush=True)
                if command.startswith("export "):
                    for assignment in shlex.split(command)[1:]:
                        name, sep, value = assignment.partition("=")
                        expect(sep and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name) and "$" not in value,
                               f"README.md:{step.line}: only `export NAME=literal ...` is supported, got {assignment!r}")
                        env[name] = value
                    print()
                    continue
                op = aws_operation(command)
                if re.search(r"(?:^|[\s;&|(])aws\s", command):
                    expect(env.get("AWS_ENDPOINT_URL") == url or f"--endpoint-url {url}" in command,
                           f"README.md:{step.line}: this aws command would not go to the local endpoint "
                           "(export AWS_ENDPOINT_URL=http://127.0.0.1:4566 or pass --endpoint-url)")
                started = time.monotonic()
                try:
                    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=ROOT, env=env,
                                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
                except subprocess.TimeoutExpired:
                    fail(f"README.md:{step.line}: command did not finish within 120 s")
                took = time.monotonic() - started
                sys.stdout.write(indent(result.stdout))
                sys.stdout.write(indent(result.stderr))
                print(f"    -> exit {result.returncode} in {took:.1f}s", flush=True)
                if step.expect_error:
                    code, documented = step.expect_error
                    expect(result.returncode != 0,
                           f"README.md:{step.line}: documented to fail with {code}, but it exited 0")
                    expect(documented in result.stderr,
                           f"README.md:{step.line}: documented error\n    {documented}\nbut it printed\n{indent(result.stderr)}")
                    print(f"    ok: fails with {code}, as documented\n")
                    checker.seen.append("documented-error")
                    continue
                expect(result.returncode == 0, f"README.md:{step.line}: exited {result.returncode}")
                out = None
                if result.stdout.strip():
                    try:
                        out = json.loads(result.stdout)
                    except json.JSONDecodeError:
                        out = None
                if step.expect_json is not None:
                    expect(out is not None, f"README.md:{step.line}: documented JSON output, but it printed no JSON")
                    where = subset_mismatch(step.expect_json, out)
                    expect(where is None, f"README.md:{step.line}: output differs from the README's: {where}")
                if op:
                    argv = shlex.split(command)
                    try:
                        checker.check(op, argv, out if out is not None else {})
                    except (KeyError, TypeError, IndexError) as e:
                        fail(f"README.md:{step.line}: unexpected output shape for {op}: {e!r}")
                print("    ok\n", flush=True)
            missing = [op for op in REQUIRED if op not in checker.seen]
            expect(not missing, f"the Walkthrough no longer runs: {', '.join(missing)}")
            expect("describe-clusters-after-delete" in checker.seen,
                   "the Walkthrough should describe the cluster after delete-cluster (status INACTIVE)")
        except KeyboardInterrupt:
            fail(f"interrupted (signal {stopping['signal'] or 'SIGINT'})")
        except CheckFailed:
            log = server.log()
            if log.strip():
                print("--- berth up log ---\n" + log.rstrip() + "\n--- end of berth up log ---", file=sys.stderr)
            raise
        finally:
            status = server.stop()
            remove_task_containers(checker.task_arns)
        expect(status == 0, f"berth up did not stop cleanly on SIGTERM (exit status {status}):\n{server.log()}")
    return len(steps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--berth", required=True, help="the berth binary to run")
    parser.add_argument("--aws-dir", help="directory holding the aws command, put first on PATH")
    parser.add_argument("readme", nargs="?", default=os.path.join(ROOT, "README.md"))
    args = parser.parse_args()
    try:
        steps = parse_walkthrough(args.readme)
        count = run(steps, os.path.abspath(args.berth), args.aws_dir)
    except CheckFailed as e:
        print(f"\nwalkthrough: FAILED: {e}", file=sys.stderr)
        return 1
    print(f"walkthrough: OK, all {count} README commands behaved as documented; berth up stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
