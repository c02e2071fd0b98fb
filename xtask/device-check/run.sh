#!/usr/bin/env bash
# The NVENC device check: run on the target machine (no Rust toolchain needed) as
#   bash run.sh [OUT_DIR]
# It prints one table: Vulkan adapter, external memory, Vulkan/CUDA UUID match, CUDA import of
# the NV12 ring (byte-exact), NVENC sessions (+ PSNR through ffmpeg where ffmpeg exists), the
# renderer end to end with encoder = "nvenc", and render + NV12 throughput at 1080p and 2160p.
# What cannot run here is a "not available: <why>" row, never a crash. Built by
# `cargo xtask device-check`; see docs/BENCHMARKS.md.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/out}"
mkdir -p "$out"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

# A Vulkan loader: the system's, else the one carried in debs/ (unpacked here, not into /).
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  if ls "$here"/debs/*.deb >/dev/null 2>&1 && command -v dpkg >/dev/null; then
    mkdir -p "$here/sysroot"
    for f in "$here"/debs/*.deb; do dpkg -x "$f" "$here/sysroot"; done
    export LD_LIBRARY_PATH="$here/sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  else
    echo "note: this machine has no Vulkan loader (libvulkan.so.1) and the bundle carries none" >&2
  fi
fi
# Containers that mount NVIDIA's driver under /usr/local/nvidia: point the loader at its ICD.
nv_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nv_icd" ] \
  && ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES="$nv_icd"
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi

echo "| check | result |"
echo "|---|---|"
"$here/device-check" --out "$out" ${DEVICE_CHECK_ARGS:-}
status=$?

# PSNR of each NVENC stream against the exact frames NVENC read (written by device-check).
have_ffmpeg=0
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null && have_ffmpeg=1
for codec in h264 hevc; do
  stream="$out/nvenc.$codec"
  source="$out/source_$codec.nv12"
  [ -s "$stream" ] || continue
  name="NVENC $codec stream decoded by ffmpeg, PSNR vs source"
  if [ "$have_ffmpeg" = 1 ]; then
    frames=$(ffprobe -v error -f "$codec" -count_frames -select_streams v:0 \
      -show_entries stream=nb_read_frames -of csv=p=0 "$stream" 2>/dev/null)
    psnr=$(ffmpeg -hide_banner -nostats -f "$codec" -r 30 -i "$stream" \
      -f rawvideo -pix_fmt nv12 -video_size 1280x720 -r 30 -i "$source" \
      -lavfi "[0:v][1:v]psnr" -f null - 2>&1 | grep -o 'y:[0-9.inf]* u:[0-9.inf]* v:[0-9.inf]* average:[0-9.inf]*' | tail -1)
    echo "| $name | ${frames:-?} frames decoded; ${psnr:-PSNR failed} |"
    rm -f "$source"   # large; the stream stays for inspection
  else
    echo "| $name | not available: ffmpeg/ffprobe not found on this machine |"
  fi
done

# The renderer end to end with encoder = "nvenc" (it needs ffmpeg to write the MP4).
name='renderer, encoder = "nvenc", 3 s at 1280x720'
if [ "$have_ffmpeg" = 1 ]; then
  if "$here/renderer" "$here/job/job.toml" --output "$out/e2e.mp4" --encoder nvenc \
      >"$out/e2e.log" 2>&1; then
    info=$(ffprobe -v error -select_streams v:0 -count_frames \
      -show_entries stream=codec_name,nb_read_frames,color_primaries -of csv=p=0 "$out/e2e.mp4")
    echo "| $name | ok: $(grep '^rendered' "$out/e2e.log" | tail -1 | cut -c1-160); ffprobe: $info |"
  else
    echo "| $name | not available: $(grep -m1 -i error "$out/e2e.log" | cut -c1-300) |"
  fi
else
  echo "| $name | not available: ffmpeg not found on this machine |"
fi
# Talking avatar: the Wav2Lip generator alone, then the avatar layer at 720p (MTCNN every frame
# on a moving face clip where ffmpeg exists, else a still detected once; encoder null).
if [ -f "$here/job/avatar.toml" ]; then
  # WAV2LIP_BATCHES and AVATAR_SECONDS shorten a dry run on a CPU (lavapipe: ~11 s a frame).
  batches="${WAV2LIP_BATCHES-1 16 64}"
  if [ -n "$batches" ]; then
    # Both backends: the WGSL kernels on the GPU, and the native CPU backend on the host's cores.
    gen=$("$here/wav2lip-bench" --backend both $batches 2>&1 |
      awk -F'|' '/^\| (cpu|gpu) \|/{printf "%s batch%s:%s frames/s; ", $2, $3, $4}')
    echo "| Wav2Lip generator alone (random weights), frames/s per backend | ${gen:-failed} |"
  fi
  if "$here/random-checkpoint" "$here/job/random-wav2lip.safetensors" 5 >/dev/null 2>&1; then
    face=astronaut.png
    if [ "$have_ffmpeg" = 1 ] && ffmpeg -hide_banner -loglevel error -y -loop 1 \
        -i "$here/job/astronaut.png" -vf "scale=720:720,pad=1320:760:300:20,crop=1280:720:'20+20*sin(2*PI*t)':'20+10*cos(2*PI*t)'" \
        -r 30 -t 2 -pix_fmt yuv420p "$here/job/face.mp4"; then
      face=face.mp4
    fi
    seconds="${AVATAR_SECONDS:-3}"
    sed -e "s/FACE/$face/" -e "s/^output = .*/&\nduration = $seconds/" "$here/job/avatar.toml" \
      >"$here/job/avatar-run.toml"
    name="avatar layer 1280x720, face $face (MTCNN + Wav2Lip + blend), $seconds s, encoder null"
    if "$here/renderer" "$here/job/avatar-run.toml" >"$out/avatar.log" 2>&1; then
      echo "| $name | $(grep '^rendered' "$out/avatar.log" | tail -1 | cut -c1-200) |"
    else
      echo "| $name | failed: $(grep -m1 -i error "$out/avatar.log" | cut -c1-300) |"
    fi
    rm -f "$here/job/random-wav2lip.safetensors"
  else
    echo "| avatar layer | not available: random-checkpoint could not write the weights |"
  fi
fi
exit $status
