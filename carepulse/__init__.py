"""CarePulse: patient-care coordination analytics.

This package is the ground floor: the extract contract (:mod:`carepulse.contract`), the warehouse
schema and connections (:mod:`carepulse.schema`, :mod:`carepulse.warehouse`), the one settings
object (:mod:`carepulse.settings`) and the user-facing error type (:mod:`carepulse.errors`).
Every room above it imports as ``carepulse.<room>``; ``docs/architecture.md`` draws the house.
"""

__version__ = "0.2.0"
