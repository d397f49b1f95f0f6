#!/bin/sh
# The layering of docs/architecture.md, checked on the sources: arrows go one way.
#   - lib/core includes nothing of lib/graph, lib/nn, lib/train or lib/io;
#   - backends (and lib/backend, compiled into them) include only the backend interface
#     (alae_backend_impl.h, alae_ops.def) and the host services (alae_host.h) of lib/internal;
#   - lib/nn, lib/train, lib/io and lib/eval never call the backend table: they use the core's device
#     helpers (lib/core/device.c).
# Usage: check_layers.sh SOURCE_DIR
set -u
src=${1:?usage: check_layers.sh SOURCE_DIR}
cd "$src" || exit 1
fail=0
report() { echo "layering: $1"; fail=1; }

# includes of lib/ headers (quoted), without the file's own directory's headers
for f in lib/core/*.c; do
    grep -n '#include "' "$f" | grep -E '"(graph|nn|train|io)/|alae_graph\.h|plan_internal\.h|model_internal\.h|trainer_internal\.h|optim_internal\.h' |
        while read -r line; do echo "$f:$line"; done
done | grep . && report "lib/core includes a header of a layer above it"

for f in backends/*/*.c backends/*/*.h backends/*/*.cu lib/backend/*.c; do
    [ -f "$f" ] || continue
    grep -n '#include "internal/' "$f" | grep -v -E '"internal/(alae_backend_impl\.h|alae_host\.h|alae_ops\.def)"' |
        while read -r line; do echo "$f:$line"; done
done | grep . && report "a backend includes more than the backend interface and the host services"

grep -n -E -- '->backend->|->run_op\(|->buf_alloc\(' lib/nn/*.c lib/train/*.c lib/io/*.c lib/eval/*.c | grep . &&
    report "lib/nn, lib/train, lib/io or lib/eval call the backend table (use the device helpers of lib/core/device.c)"

[ "$fail" = 0 ] && echo "layering: ok"
exit "$fail"
