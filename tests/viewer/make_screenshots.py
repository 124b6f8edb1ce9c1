"""Takes docs/viewer-list.png and docs/viewer-session.png: the corpus in the embedded S3, seen in chromium.

Run from the repository root: ``.venv/bin/python tests/viewer/make_screenshots.py`` (needs the dev extra and
Debian's chromium and chromium-driver). Writes the sessions through `S3SessionManager` to moto on 127.0.0.1,
serves them with the viewer as ``s3sessions view`` does, and saves two screenshots.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from viewer_corpus import seed
from viewer_support import start_chromium

from s3sessions import S3SessionManager
from s3sessions.loop_thread import LoopThread
from s3sessions.testing.local_s3 import LocalS3
from s3sessions.viewer import ReadOnlySessions, ViewerApp, ViewerServer

DOCS = Path(__file__).resolve().parents[2] / "docs"
BUCKET, PREFIX = "s3sessions", "demo/"


def main() -> None:
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    profile = tempfile.mkdtemp(prefix="s3sessions-screenshots-")
    with LocalS3() as s3:
        import boto3

        boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
        loop = LoopThread("screenshots")
        manager = S3SessionManager(BUCKET, PREFIX, endpoint_url=s3.endpoint_url)
        ids = loop.run(seed(manager))
        app = ViewerApp(ReadOnlySessions(manager), loop.run, f"s3://{BUCKET}/{PREFIX}")
        server = ViewerServer(app, port=0).start()
        browser = start_chromium(profile, 1280, 760)
        try:
            browser.get(server.url)
            browser.save_screenshot(str(DOCS / "viewer-list.png"))
            browser.set_window_size(1280, 1480)
            browser.get(f"{server.url}session/{ids['original']}")
            browser.execute_script("document.querySelector('details.tool-call').open = true;")
            browser.save_screenshot(str(DOCS / "viewer-session.png"))
        finally:
            browser.quit()
            server.close()
            loop.close(manager.close())
            shutil.rmtree(profile, ignore_errors=True)
    print(f"wrote {DOCS / 'viewer-list.png'} and {DOCS / 'viewer-session.png'}")


if __name__ == "__main__":
    main()
