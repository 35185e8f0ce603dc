"""Onboarding: the steps, choices and checks of a first setup, for the wizard and
``tau onboard --non-interactive`` alike (``plan.py``), the model probe (``probe.py``),
the identity files (``identity.py``), ``tau auth status`` (``key_report.py``) and
``tau doctor`` (``doctor.py``)."""
