"""The prior-authorization domain: the aggregate, its decision clocks, the auto-approval rules. No I/O."""

from .authorization import (  # noqa: F401
    DECIDABLE,
    NO_AUTHORIZATION_REQUIRED,
    UNDECIDED,
    Authorization,
    AuthorizationError,
    Change,
    Decision,
    InfoRequest,
    InvalidDecision,
    InvalidTransition,
    UnknownInfoRequest,
)
from .clocks import Clock, DecisionClocks, load_clocks  # noqa: F401
from .rules import DecisionStats, Rule, RuleInput, first_approving, load_rules  # noqa: F401
