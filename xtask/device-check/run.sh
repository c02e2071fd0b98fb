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
# NVIDIA's Vulkan driver: containers that mount it under /usr/local/nvidia get its ICD file;
# containers with the driver library but no ICD file at all get one written here, pointing at
# libGLX_nvidia.so.0 (the library that holds NVIDIA's Vulkan driver).
vk_note=""
nv_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
have_icd() { ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; }
if [ -z "${VK_DRIVER_FILES:-}" ] && ! have_icd; then
  if [ -f "$nv_icd" ]; then
    export VK_DRIVER_FILES="$nv_icd"
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    vk_note="ICD file $nv_icd"
  else
    lib=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/{print $NF; exit}')
    [ -z "$lib" ] && lib=$(ls /usr/local/nvidia/lib64/libGLX_nvidia.so.0 /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 2>/dev/null | head -1)
    if [ -n "$lib" ]; then
      printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3"}}\n' "$lib" \
        >"$here/nvidia_icd.json"
      export VK_DRIVER_FILES="$here/nvidia_icd.json"
      vk_note="ICD file written for $lib"
    elif command -v nvidia-smi >/dev/null; then
      vk_note="no NVIDIA Vulkan driver: the container has CUDA (nvidia-smi) but neither an ICD file nor libGLX_nvidia.so.0; start it with NVIDIA_DRIVER_CAPABILITIES including graphics (or all)"
    fi
  fi
fi

echo "| check | result |"
echo "|---|---|"
[ -n "$vk_note" ] && echo "| NVIDIA Vulkan driver | $vk_note |"
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
  # WAV2LIP_BATCHES, WAV2LIP_CPU_BATCHES and AVATAR_SECONDS shorten a dry run on a CPU
  # (lavapipe: ~10 s a frame). PyTorch runs in the same call where the machine's python3 has it.
  batches="${WAV2LIP_BATCHES-1 16 128 256}"
  torch_arg=""
  python3 -c "import torch" >/dev/null 2>&1 && torch_arg="--torch system"
  if [ -n "$batches" ]; then
    for kernel in auto direct; do
      # The GPU path (auto: implicit GEMM where it pays, else direct; direct: the old kernel
      # everywhere), with PyTorch fp32 (TF32 on, its default), fp32 TF32 off and fp16.
      t=""; [ "$kernel" = auto ] && t="$torch_arg"
      "$here/wav2lip-bench" --backend gpu --kernel "$kernel" $t $batches >"$out/gen-$kernel.md" 2>&1
      gen=$(awk -F'|' '/^\| gpu \|/{gsub(/ /, ""); printf "batch %s: %s frames/s (%s GFLOP/s; PyTorch fp32 %s, TF32 off %s, fp16 %s); ", $3, $4, $5, $6, $7, $8}' "$out/gen-$kernel.md")
      echo "| Wav2Lip generator on the GPU, $kernel kernels (random weights) | ${gen:-failed: $(tail -1 "$out/gen-$kernel.md" | cut -c1-200)} |"
    done
    cpu_batches="${WAV2LIP_CPU_BATCHES-1 16 64}"
    gen=$("$here/wav2lip-bench" --backend cpu $cpu_batches 2>&1 |
      awk -F'|' '/^\| cpu \|/{printf "batch%s:%s frames/s; ", $3, $4}')
    echo "| Wav2Lip generator on the host's cores (native CPU backend) | ${gen:-failed} |"
    layer_batch="${WAV2LIP_LAYER_BATCH-128}"
    "$here/wav2lip-bench" --layers "$layer_batch" >"$out/layers.md" 2>&1
    groups=$(awk -F'|' '/^\| output side/{on=1; next} on && /^\| [0-9]/{gsub(/ /, ""); printf "out height %s: direct %s, gemm %s GFLOP/s; ", $2, $7, $8}' "$out/layers.md")
    echo "| generator layers by output size, batch $layer_batch (per layer: layers.md) | ${groups:-failed: $(tail -1 "$out/layers.md" | cut -c1-200)} |"
  fi
  det=$("$here/wav2lip-bench" --mtcnn --backend both --mtcnn-weights "$here/job/mtcnn" \
      --photo "$here/job/astronaut.png" 2>&1 |
    awk -F'|' '/^\| (cpu|gpu) \|/{printf "%s%s min_face%s:%s ms; ", $2, $3, $4, $6}')
  echo "| MTCNN face detection, 720p and 1080p | ${det:-failed} |"
  if "$here/random-checkpoint" "$here/job/random-wav2lip.safetensors" 5 >/dev/null 2>&1; then
    face=astronaut.png
    if [ "$have_ffmpeg" = 1 ] && ffmpeg -hide_banner -loglevel error -y -loop 1 \
        -i "$here/job/astronaut.png" -vf "scale=720:720,pad=1320:760:300:20,crop=1280:720:'20+20*sin(2*PI*t)':'20+10*cos(2*PI*t)'" \
        -r 30 -t 2 -pix_fmt yuv420p "$here/job/face.mp4"; then
      face=face.mp4
    fi
    seconds="${AVATAR_SECONDS:-3}"
    # The face clip with detection on every 5th frame, then the still (detected once, faces
    # generated in batches of 32).
    for run in "$face 5" "astronaut.png 1"; do
      set -- $run
      sed -e "s/FACE/$1/" -e "s/^output = .*/&\nduration = $seconds/" \
        -e "s/^detector = .*/&\ndetect_every = $2/" "$here/job/avatar.toml" \
        >"$here/job/avatar-run.toml"
      name="avatar layer 1280x720, face $1 (MTCNN every $2 + Wav2Lip + blend), $seconds s, encoder null"
      if "$here/renderer" "$here/job/avatar-run.toml" >"$out/avatar.log" 2>&1; then
        echo "| $name | $(grep -m1 'lip sync on the' "$out/avatar.log" | grep -o 'on the [a-z]* backend'); $(grep '^rendered' "$out/avatar.log" | tail -1 | cut -c1-200) |"
      else
        echo "| $name | failed: $(grep -m1 -i error "$out/avatar.log" | cut -c1-300) |"
      fi
    done
    rm -f "$here/job/random-wav2lip.safetensors"
  else
    echo "| avatar layer | not available: random-checkpoint could not write the weights |"
  fi
fi
exit $status
