"""The synthetic health system behind ``carepulse generate``, the demo, the tests and the benchmarks.

See ``docs/synthetic-health-system.md`` for what is generated, the planted effects and their anchors.
"""

from carepulse.pipelines.synthetic.generator import CHUNK_PATIENTS, GenerationSummary, generate_health_system

__all__ = ["CHUNK_PATIENTS", "GenerationSummary", "generate_health_system"]
