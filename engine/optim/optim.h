// Everything a training loop needs from engine/optim: optimisers, LR schedules, clipping.
#pragma once
#include "engine/optim/adam.h"
#include "engine/optim/clip_grad.h"
#include "engine/optim/lr_scheduler.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/reduce_lr_on_plateau.h"
#include "engine/optim/rmsprop.h"
#include "engine/optim/sgd.h"
#include "engine/optim/state_dict.h"
