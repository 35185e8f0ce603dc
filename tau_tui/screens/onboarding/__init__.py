"""The onboarding wizard: seven steps over ``tau_engine.onboarding.plan``."""
