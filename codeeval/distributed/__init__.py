"""Scale-out: the work of ``codeeval score`` on a cluster (``--executor ray``).

:class:`~codeeval.distributed.ray_executor.RayExecutor` implements the
:class:`~codeeval.score.executor.Executor` protocol over Ray. Import it from
:mod:`codeeval.distributed.ray_executor`; ``ray`` itself is imported only when an executor
connects, so importing this package costs nothing.
"""
