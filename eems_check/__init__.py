"""eems-check: which Exchange servers can the Emergency Mitigation Service still protect?"""

__version__ = "0.1.0"
