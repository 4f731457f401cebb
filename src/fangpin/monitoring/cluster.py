"""A Spark standalone cluster (one master, N workers) on loopback, from the pip ``pyspark`` distribution.

Used by the cluster parity test and the scale benchmark; an operator with a real cluster (YARN, Kubernetes,
standalone on many hosts) does not need it — see docs/SCALE.md. Every JVM is started in its own session
(process group) so :meth:`LocalCluster.stop` ends the master, the workers *and* the executors they forked,
leaving no orphan JVMs; the class is a context manager and stops on exit even when the body fails.

    with LocalCluster(workers=2, cores=1, memory="1g") as c:
        spark = c.session()              # in-process driver against spark://127.0.0.1:<port>
        c.submit(["-m", ...])            # or a spark-submit of a driver script
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def spark_home() -> Path:
    """The pyspark package directory is a complete SPARK_HOME (bin/, jars/, sbin/)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    home = spark_home()
    env.update({
        "SPARK_HOME": str(home),
        "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_LOG_DIR": str(work / "logs"), "SPARK_LOCAL_DIRS": str(work / "local"),
        "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1",
    })
    # executors running Python (not needed by the SQL job, but harmless) must import fangpin from this venv
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@dataclass
class LocalCluster:
    work: Path
    workers: int = 2
    cores: int = 1
    memory: str = "1g"               # per worker (what its executors may use)
    port: int = 0                    # master RPC port; 0 = a free port
    webui_port: int = 0              # master web UI; workers use free ports (or webui_port + 1 + i when set)
    startup_timeout: float = 120.0
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    @property
    def webui(self) -> str:
        return f"http://127.0.0.1:{self.webui_port}"

    def _launch(self, name: str, args: list[str]) -> None:
        log = open(self.work / "logs" / f"{name}.log", "ab")
        p = subprocess.Popen([str(spark_home() / "bin" / "spark-class"), *args], env=spark_env(self.work),
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, cwd=self.work)
        log.close()
        self.procs.append(p)

    def start(self) -> "LocalCluster":
        self.work = Path(self.work)
        for d in ("logs", "local", "worker"):
            (self.work / d).mkdir(parents=True, exist_ok=True)
        _exit_on_sigterm()
        self.port = self.port or free_port()
        self.webui_port = self.webui_port or free_port()
        try:
            self._launch("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                    "--port", str(self.port), "--webui-port", str(self.webui_port)])
            self._wait(lambda s: s.get("status") == "ALIVE", "master")
            for i in range(self.workers):
                ui = self.webui_port + 1 + i if self.webui_port else free_port()
                self._launch(f"worker{i + 1}", [
                    "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", str(self.cores),
                    "--memory", self.memory, "--webui-port", str(ui),
                    "--work-dir", str(self.work / "worker" / str(i + 1)), self.url])
            self._wait(lambda s: sum(w.get("state") == "ALIVE" for w in s.get("workers", [])) >= self.workers,
                       f"{self.workers} workers")
        except BaseException:
            self.stop()
            raise
        return self

    def status(self) -> dict:
        with urllib.request.urlopen(self.webui + "/json/", timeout=5) as r:
            return json.loads(r.read())

    def _wait(self, ok, what: str) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a Spark JVM exited (code {dead[0].returncode}) while waiting for {what}; "
                                   f"see {self.work / 'logs'}")
            try:
                if ok(self.status()):
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"Spark standalone cluster: {what} not up after {self.startup_timeout:.0f} s "
                           f"(logs in {self.work / 'logs'})")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM each JVM's process group (workers take their executors down), then SIGKILL stragglers."""
        for p in reversed(self.procs):  # workers first, then the master
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in self.procs:
            try:  # the group may still hold an executor even when the worker itself has exited
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()

    def alive_pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- clients -------------------------------------------------------------------------------------------

    def conf(self, executor_memory: str | None = None) -> dict[str, str]:
        """Driver settings for this cluster: one executor per worker, loopback only."""
        return cluster_conf(self.url, cores=self.cores, executor_memory=executor_memory or self.memory)

    def session(self, app: str = "fangpin-monitor", executor_memory: str | None = None):
        from fangpin.monitoring.engine import spark_session

        return spark_session(self.url, app, conf=self.conf(executor_memory))

    def submit(self, args: list[str], *, executor_memory: str | None = None, driver_memory: str = "1g",
               timeout: float = 3600) -> subprocess.CompletedProcess:
        """``spark-submit --master <this cluster> <args>`` (args: the driver script and its arguments)."""
        cmd = [str(spark_home() / "bin" / "spark-submit"), "--master", self.url, "--driver-memory", driver_memory]
        for k, v in self.conf(executor_memory).items():
            cmd += ["--conf", f"{k}={v}"]
        return subprocess.run(cmd + args, env=spark_env(self.work), capture_output=True, text=True,
                              timeout=timeout, cwd=self.work)


def _exit_on_sigterm() -> None:
    """A SIGTERM to this process (a test runner or CI timeout) must still run the ``finally``/``__exit__`` that
    stops the JVMs: turn it into SystemExit when nobody else handles it (main thread only)."""
    import threading

    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        def _raise(signum, frame):
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, _raise)


def cluster_conf(master: str, *, cores: int = 1, executor_memory: str = "1g") -> dict[str, str]:
    conf = {"spark.executor.cores": str(cores), "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1"}
    if master.startswith("spark://"):
        # executor memory must fit the worker's --memory minus nothing (standalone grants exactly what is asked)
        conf["spark.executor.memory"] = executor_memory
    return conf


def main(argv: list[str] | None = None) -> None:
    """``python -m fangpin.monitoring.cluster start|stop DIR [--port P] [--webui-port W] [--workers N]``.

    ``start`` keeps running (foreground) until SIGINT/SIGTERM, then stops every JVM it started."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m fangpin.monitoring.cluster")
    ap.add_argument("work", type=Path)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--webui-port", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cores", type=int, default=1)
    ap.add_argument("--memory", default="1g")
    a = ap.parse_args(argv)
    c = LocalCluster(a.work, workers=a.workers, cores=a.cores, memory=a.memory, port=a.port,
                     webui_port=a.webui_port)
    stop = {"now": False}

    def handler(*_):
        stop["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    with c:
        print(json.dumps({"master": c.url, "webui": c.webui, "pids": c.alive_pids()}), flush=True)
        while not stop["now"]:
            time.sleep(0.5)


if __name__ == "__main__":
    main()
