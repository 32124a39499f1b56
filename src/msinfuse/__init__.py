"""msinfuse: the infusion side of a multiple sclerosis clinic.

Decision support only: every clinical output names the label revisions it rests on
and must be verified against the current prescribing information by a clinician.
"""

__version__ = "0.1.0"
