"""The integer constants of the C API, named as in the headers without the ``ALAE_`` prefix.

Every ``#define ALAE_<NAME> <integer>`` of ``include/alae/*.h`` has a twin here with the same
value (tests/python/test_bindings.py checks it); the values are pinned by the ABI policy, so new
constants are only ever appended. Key names are also the setting names the high-level classes
take: ``CFG_LATENT_DIM`` is the ``latent_dim=`` setting of :meth:`alae.Model.from_preset`.
"""

# alae_status.h: status codes (pinned forever)
OK = 0
E_INVALID_ARG = -1
E_NOMEM = -2
E_DEVICE_NOMEM = -3
E_UNSUPPORTED = -4
E_BACKEND_UNAVAILABLE = -5
E_BACKEND = -6
E_DEVICE_LOST = -7
E_IO = -8
E_FORMAT = -9
E_VERSION = -10
E_SHAPE = -11
E_STATE = -12
E_ABORTED = -13
E_INTERNAL = -99

# alae_status.h: log levels
LOG_DEBUG = 0
LOG_INFO = 1
LOG_WARN = 2
LOG_ERROR = 3
LOG_NONE = 4

# alae_device.h: device kinds and context parameters
DEVICE_CPU = 0
DEVICE_CUDA = 1
CTX_THREADS = 1001
CTX_SEED = 1002
CTX_DETERMINISTIC = 1003
CTX_POISON = 1004
CTX_TF32 = 1005
CTX_GRAPHS = 1006
CTX_WINOGRAD = 1007

# alae_tensor.h
DTYPE_F32 = 0
DTYPE_F16 = 1
DTYPE_BF16 = 2
DTYPE_I32 = 3
DTYPE_U8 = 4
TENSOR_MAX_DIMS = 4

# alae_model.h: architectures, parts and configuration keys
ARCH_MLP = 1
ARCH_STYLE = 2
PART_F = 1
PART_G = 2
PART_E = 4
PART_D = 8
PART_ALL = 15
CFG_ARCH = 2001
CFG_LATENT_DIM = 2002
CFG_MAPPING_LAYERS = 2003
CFG_HIDDEN = 2004
CFG_IMAGE_SIZE = 2005
CFG_CHANNELS = 2006
CFG_NET_SIZE = 2007
CFG_DATA_RANGE = 2008
CFG_G_SLOPE = 2009
CFG_E_SLOPE = 2010
CFG_E_OUT_SLOPE = 2011
CFG_D_LAYERS = 2012
CFG_START_CHANNELS = 2013
CFG_MAX_CHANNELS = 2014

# alae_model.h: inference settings of a model (alae_model_set / alae_model_get) and noise modes
MODEL_LOD = 3001
MODEL_BLEND = 3002
MODEL_TRUNCATION_PSI = 3003
MODEL_TRUNCATION_CUTOFF = 3004
MODEL_NOISE = 3005
MODEL_STYLE_COUNT = 3006
MODEL_RESOLUTION = 3007
MODEL_LEVELS = 3008
NOISE_OFF = 0
NOISE_PER_SAMPLE = 1
NOISE_BATCH_CONSTANT = 2
IMPORT_SMOOTHED = 0
IMPORT_TRAINING = 1

# alae_optim.h: optimizer keys
OPT_LR = 6001
OPT_BETA1 = 6002
OPT_BETA2 = 6003
OPT_EPS = 6004

# alae_train.h: trainer keys and latent losses
TRAIN_R1_GAMMA = 4001
TRAIN_LATENT_LOSS = 4002
TRAIN_LATENT_LOSS_WEIGHT = 4003
TRAIN_EMA_HALF_LIFE = 4004
TRAIN_DLATENT_BETA = 4005
TRAIN_SEED = 4006
TRAIN_LOD = 4007
TRAIN_BLEND = 4008
TRAIN_STYLE_MIXING = 4009
TRAIN_EPOCHS_PER_LOD = 4010
TRAIN_DATASET_SIZE = 4011
TRAIN_EPOCHS = 4012
TRAIN_EPOCH = 4013
TRAIN_EPOCH_IMAGES = 4014
TRAIN_BATCH = 4015
TRAIN_R1_INTERVAL = 4016
LEVEL_BATCH = 5001
LEVEL_LR = 5002
LATENT_L2 = 0
LATENT_L1 = 1

# alae_comm.h: communicators for data-parallel training
COMM_VERSION = 1
REDUCE_SUM = 0
REDUCE_AVG = 1
COMM_HOST = 0
COMM_DEVICE = 1

# alae_io.h: flags of alae_dataset_open_folder
FOLDER_SKIP_BAD = 1
FOLDER_NO_CROP = 2

# alae_eval.h: levels alae_swd_result holds
SWD_MAX_LEVELS = 16


def keys_with_prefix(prefix):
    """{setting name: key} for the constants named ``<prefix><NAME>``: ``keys_with_prefix("CFG_")``
    gives ``{"arch": 1, "latent_dim": 2, ...}``. The high-level classes take their settings by
    these names, so a key appended to a header needs only its constant here."""
    return {name[len(prefix):].lower(): value for name, value in globals().items()
            if name.startswith(prefix) and isinstance(value, int)}


STATUS_NAMES = {value: "ALAE_" + name for name, value in dict(globals()).items()
                if (name == "OK" or name.startswith("E_")) and isinstance(value, int)}
