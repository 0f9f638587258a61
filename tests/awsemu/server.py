"""Command line entry: serve the emulator on 127.0.0.1 until SIGTERM."""

import argparse
import os
import signal
import sys
import threading
import time


# A bake's length in AWS seconds when --bake-seconds is not given (a real
# bake takes 20-40 minutes; this keeps a default emulator quick).
DEFAULT_AWS_BAKE_S = 5.0
# A CopyImage's length in AWS seconds when --copy-seconds is not given (a
# real copy takes minutes to tens of minutes).
DEFAULT_AWS_COPY_S = 5.0


def parse_args(argv):
    p = argparse.ArgumentParser(prog="tests/awsemu/run",
                                description="AWS emulator for Kiln's tests (moto, extended)")
    p.add_argument("--port", type=int, required=True,
                   help="TCP port on 127.0.0.1; 0 picks a free one (printed when ready)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="AWS seconds per emulator second (default 1): 60 runs a 5-minute "
                        "warmup in 5 s")
    p.add_argument("--bake-seconds", type=float, default=None,
                   help="how long an Image Builder CreateImage takes, in emulator seconds "
                        "(default 5 AWS seconds, scaled)")
    p.add_argument("--copy-seconds", type=float, default=None,
                   help="how long an EC2 CopyImage stays pending, in emulator seconds "
                        "(default 5 AWS seconds, scaled)")
    p.add_argument("--refresh-batch-seconds", type=float, default=None,
                   help="make every instance-refresh batch take this long (emulator "
                        "seconds), whatever the warmup (default: AWS's timing, scaled)")
    p.add_argument("--boot-seconds", type=float, default=0.0,
                   help="how long an instance a group launches stays Pending before it is "
                        "InService, in AWS seconds, scaled by --time-scale (default 0)")
    p.add_argument("--check-instance-profiles", action="store_true",
                   help="fail launches whose instance profile does not exist in the "
                        "emulator's IAM")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the fault-injection random generator")
    return p.parse_args(argv)


def _warm_up(emulator):
    """Loads moto's backends now, so the first request a test makes is not
    the one that pays for importing EC2's AMI catalogue."""
    from moto.backends import get_backend

    from .protocol import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

    for name in ("ec2", "autoscaling", "ssm", "sts", "iam"):
        regions = get_backend(name)[DEFAULT_ACCOUNT_ID]
        regions[DEFAULT_REGION if name not in ("sts", "iam") else "aws"]
        emulator.moto_app.get_application({"PATH_INFO": "/", "HTTP_HOST": name})
    from .accounts import ensure_org_role

    ensure_org_role(DEFAULT_ACCOUNT_ID)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.time_scale <= 0:
        print("tests/awsemu/run: --time-scale must be > 0", file=sys.stderr)
        return 2
    if args.copy_seconds is not None and args.copy_seconds < 0:
        print("tests/awsemu/run: --copy-seconds must be >= 0", file=sys.stderr)
        return 2
    if args.boot_seconds < 0:
        print("tests/awsemu/run: --boot-seconds must be >= 0", file=sys.stderr)
        return 2
    started = time.monotonic()

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from . import lt_versions, motoglue
    from .app import Emulator
    from .httpserver import KeepAliveHandler

    motoglue.install()
    lt_versions.install()
    emulator = Emulator(DomainDispatcherApplication(create_backend_app),
                        bake_seconds=(args.bake_seconds if args.bake_seconds is not None
                                      else DEFAULT_AWS_BAKE_S / args.time_scale),
                        copy_seconds=(args.copy_seconds if args.copy_seconds is not None
                                      else DEFAULT_AWS_COPY_S / args.time_scale),
                        refresh_batch_seconds=args.refresh_batch_seconds,
                        time_scale=args.time_scale,
                        boot_seconds=args.boot_seconds,
                        check_instance_profiles=args.check_instance_profiles,
                        seed=args.seed)
    _warm_up(emulator)
    server = make_server("127.0.0.1", args.port, emulator, threaded=True,
                         request_handler=KeepAliveHandler)
    port = server.server_address[1]
    emulator.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                               name="awsemu-http", daemon=True)
    serving.start()
    print(f"awsemu ready on http://127.0.0.1:{port} "
          f"(port {port}, {time.monotonic() - started:.2f}s)", flush=True)
    while not stop.wait(3600):
        pass
    server.shutdown()
    serving.join(timeout=5)
    emulator.stop()
    server.server_close()
    print("awsemu stopped", flush=True)
    sys.stderr.flush()
    # Everything is stopped and all state lived in memory; skipping the
    # interpreter's teardown of moto's module graph saves about a second per
    # emulator, which every test that starts its own pays.
    os._exit(0)
