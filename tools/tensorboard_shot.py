"""A screenshot of TensorBoard showing a run's logs, for the tutorial (nbs/files/tensorboard.png).

    cube_train --out runs/tb --epochs 4 --log tensorboard
    python tools/tensorboard_shot.py runs/tb nbs/files/tensorboard.png
"""
import socket, subprocess, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service


def shot(run: str, png: str, wait: float = 12.0):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tb = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", f"{run}/tensorboard", "--port",
                           str(port)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    o = Options()
    o.binary_location = "/usr/bin/chromium"
    for f in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]:
        o.add_argument(f)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    try:
        time.sleep(5)  # the server reads the event files
        d.get(f"http://127.0.0.1:{port}/#timeseries")
        time.sleep(wait)  # the page draws its charts
        d.save_screenshot(png)
    finally:
        d.quit()
        tb.terminate()


if __name__ == "__main__": shot(*sys.argv[1:3])
