"""Chargeback cases: the processor's dispute reports loaded once, cases kept with every stage,
posted to Sage's GL once per case and stage, deadlines announced (README "Chargebacks")."""
