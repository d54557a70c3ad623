"""HTTP only: one blueprint per area; rules live in yanxiu.services."""
