// Registration of the pool layers (scaffold: filled in by the layer work in progress).
#include "engine/graph/layer_registry.h"

namespace nl::graph {

void register_pool_layers(LayerRegistry& r) { (void)r; }

}  // namespace nl::graph
