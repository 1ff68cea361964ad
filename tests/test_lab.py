"`make lab` as a user starts it, headless on loopback: the notebooks served with our kernel, one rendered in Chromium."
import json, os, secrets, signal, socket, subprocess, time, urllib.request
from pathlib import Path
from test_docs import chromium

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as r: return json.loads(r.read())


def test_make_lab_serves_the_notebooks_and_one_renders(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    args = (f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --ServerApp.port_retries=0 "
            f"--IdentityProvider.token={token}")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    lab = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}"], cwd=ROOT, env=env, start_new_session=True,
                           stdout=open(tmp_path / "lab.log", "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):  # up to a minute
            try:
                get(f"{base}/api/status?token={token}")
                break
            except OSError:
                assert lab.poll() is None, (tmp_path / "lab.log").read_text()[-2000:]
                time.sleep(0.5)
        else: raise AssertionError("JupyterLab did not start: " + (tmp_path / "lab.log").read_text()[-2000:])
        names = {c["name"] for c in get(f"{base}/api/contents?token={token}")["content"]}
        assert {"index.ipynb", "00_core.ipynb", "01_lattice.ipynb", "tutorials"} <= names
        specs = get(f"{base}/api/kernelspecs?token={token}")["kernelspecs"]
        assert "cube_nb" in specs and Path(specs["cube_nb"]["spec"]["argv"][0]).is_relative_to(ROOT / ".venv")
        url = f"{base}/lab/tree/01_lattice.ipynb?token={token}"
        dom = chromium("--virtual-time-budget=60000", "--window-size=1280,900", "--dump-dom", url, timeout=180)
        assert "jp-Notebook" in dom and "The 3D lattice" in dom, dom[-1500:]
        png = tmp_path / "lab.png"
        chromium("--virtual-time-budget=60000", "--window-size=1280,900", f"--screenshot={png}", url, timeout=180)
        assert png.stat().st_size > 20_000
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGTERM)
            try: lab.wait(timeout=30)
            except subprocess.TimeoutExpired: os.killpg(lab.pid, signal.SIGKILL)
