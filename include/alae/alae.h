/* libalae: Adversarial Latent Autoencoders in C. The umbrella header.
 *
 *   #include <alae/alae.h>
 *
 * Conventions: opaque handles; functions named alae_<noun>_<verb>; every fallible function
 * returns an alae_status (0 ok, negative error, see alae_status.h) and leaves its out-parameters
 * untouched on failure; alae_last_error() explains the last failure on the calling thread;
 * destroy functions accept NULL; the library never aborts or exits the process. */
#ifndef ALAE_H
#define ALAE_H

#include "alae_export.h"
#include <alae/alae_version.h> /* generated into the build tree */
#include "alae_status.h"
#include "alae_device.h"
#include "alae_tensor.h"
#include "alae_model.h"
#include "alae_optim.h"
#include "alae_comm.h"
#include "alae_train.h"
#include "alae_io.h"
#include "alae_eval.h"

#endif /* ALAE_H */
