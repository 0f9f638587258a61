#!/bin/bash
# Everything is baked into the AMI; boot only starts the service.
set -euo pipefail
systemctl start hello.service
