"""What an operator gets in private: their own space with the team bot (chat), their notes."""
