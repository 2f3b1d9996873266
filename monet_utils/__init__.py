"""monet_utils: a CycleGAN toolkit for Kaggle's "I'm Something of a Painter Myself".

Modules (see ARCHITECTURE.md): config, runtime, data, sample_data, models, cyclegan,
train, mifid, submission, plots, notebooks; `python -m monet_utils --help` for the CLI.
Import the module you need (`from monet_utils import data`); importing the package
itself does not import TensorFlow.
"""

__version__ = "0.1.0"
