"""Running the work: training a model into a run directory, and evaluating a run.

Modules:
    objectives: the objective registry (Pyro ELBOs), the KL weight and the training step.
    training: the training loop, on one device or on every process under torchrun.
    evaluation: ``evaluate``, ``compare-estimators`` and ``bdmc`` of a run directory.
    interrupts: SIGINT and SIGTERM as a flag the loop checks between steps.
"""

__all__: list[str] = []
