// Everything in nl::data: datasets, file readers, synthetic sets, transforms and the
// prefetching DataLoader (see dataset.h for a worked example).
#pragma once
#include "engine/data/cifar.h"
#include "engine/data/csv.h"
#include "engine/data/dataloader.h"
#include "engine/data/dataset.h"
#include "engine/data/image_decode.h"
#include "engine/data/image_folder.h"
#include "engine/data/mnist.h"
#include "engine/data/npy_pair.h"
#include "engine/data/synthetic.h"
#include "engine/data/synthetic_sequences.h"
#include "engine/data/transforms.h"
