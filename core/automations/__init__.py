"""Automations: the rules of AUTOMATIONS_FILE and what they do (README "## Automations")."""

from core.automations.engine import NOTIFY, RUN, SHOW, Automations, acting
from core.automations.rules import RulesError, RuleSet, parse_rules

__all__ = ["NOTIFY", "RUN", "SHOW", "Automations", "RuleSet", "RulesError", "acting", "parse_rules"]
