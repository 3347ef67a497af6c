// Everything of nl::nn: the Module base, every layer, the initialisers and the losses.
#pragma once
#include "engine/nn/activation.h"
#include "engine/nn/conv.h"
#include "engine/nn/dropout.h"
#include "engine/nn/embedding.h"
#include "engine/nn/init.h"
#include "engine/nn/linear.h"
#include "engine/nn/losses.h"
#include "engine/nn/module.h"
#include "engine/nn/norm.h"
#include "engine/nn/pool.h"
#include "engine/nn/structural.h"
