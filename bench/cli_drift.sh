#!/usr/bin/env bash
# A drift check written with the AWS CLI: what a user writes instead of
# Kiln (issue 19), to compare with `kiln plan` in bench/cli_compare.py.
#
# For each app of DESIRED, one line "APP AMI" (the app's name and the AMI it
# should run; the launch template and the Auto Scaling group are named after
# the app, as Kiln names them by default), it asks AWS:
#   aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names APP
#   aws ec2 describe-launch-template-versions --launch-template-name APP --versions '$Default'
#   aws ec2 describe-images --image-ids <the AMI of that version>
# and prints one line per difference:
#   APP ami desired=AMI actual=AMI          the template's default runs another AMI
#   APP image desired=available actual=S    that AMI is not available (or missing)
#   APP group|template desired=present actual=missing
#   APP group-template desired=APP actual=T the group uses another template
#   APP group-version desired=V actual=V'   the group is not on the default version
#   APP error: ...                          a call failed
#
# Usage: bench/cli_drift.sh DESIRED
#   AWS           the CLI to run (default: aws on PATH)
#   CLI_PARALLEL  apps checked at once (default 1: one after the other), as
#                 a user would with xargs -P
# Exit: 0 no drift, 2 drift, 1 a call failed.
set -uo pipefail

AWS="${AWS:-aws}"

# One app: three calls, each answer cut down with --query to what the check
# compares.
check_app() {
  local app="$1" want_ami="$2" group lt image
  local g_template g_version lt_version lt_ami img_state

  if ! group=$("$AWS" autoscaling describe-auto-scaling-groups \
      --auto-scaling-group-names "$app" --output text \
      --query 'AutoScalingGroups[0].[LaunchTemplate.LaunchTemplateName,LaunchTemplate.Version]' \
      2>&1); then
    echo "$app error: describe-auto-scaling-groups: ${group//$'\n'/ }"
    return 1
  fi
  read -r g_template g_version <<<"$group"
  if [ "$g_template" = "None" ] && [ "$g_version" = "" ]; then
    echo "$app group desired=present actual=missing"
    return 0
  fi
  if ! lt=$("$AWS" ec2 describe-launch-template-versions \
      --launch-template-name "$app" --versions '$Default' --output text \
      --query 'LaunchTemplateVersions[0].[VersionNumber, LaunchTemplateData.ImageId]' 2>&1); then
    case "$lt" in
      *NotFound*) echo "$app template desired=present actual=missing"; return 0 ;;
    esac
    echo "$app error: describe-launch-template-versions: ${lt//$'\n'/ }"
    return 1
  fi
  read -r lt_version lt_ami <<<"$lt"
  if ! image=$("$AWS" ec2 describe-images --image-ids "$lt_ami" --output text \
      --query 'Images[0].State' 2>&1); then
    # An AMI that is gone is an error answer, not an empty list.
    case "$image" in
      *NotFound* | *Malformed*) image="missing" ;;
      *) echo "$app error: describe-images: ${image//$'\n'/ }"; return 1 ;;
    esac
  fi
  read -r img_state <<<"$image"

  [ "$lt_ami" = "$want_ami" ] || echo "$app ami desired=$want_ami actual=$lt_ami"
  [ "$img_state" = "available" ] || echo "$app image desired=available actual=$img_state"
  [ "$g_template" = "$app" ] || echo "$app group-template desired=$app actual=$g_template"
  [ "$g_version" = "$lt_version" ] ||
    echo "$app group-version desired=$lt_version actual=$g_version"
  return 0
}

if [ "${1:-}" = "--one" ]; then
  check_app "$2" "$3"
  exit
fi
if [ $# -ne 1 ] || [ ! -r "$1" ]; then
  echo "usage: $0 DESIRED   (lines \"APP AMI\")" >&2
  exit 64
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ "${CLI_PARALLEL:-1}" -gt 1 ]; then
  # xargs runs this script once per app; each prints whole lines, short
  # enough to be written at once.
  xargs -P "$CLI_PARALLEL" -n 2 "$0" --one <"$1" >"$out"
else
  while read -r app ami; do
    [ -n "$app" ] && check_app "$app" "$ami"
  done <"$1" >"$out"
fi
cat "$out"
if grep -q ' error: ' "$out"; then
  exit 1
elif [ -s "$out" ]; then
  exit 2
fi
exit 0
