"""Glue between the HTTP blueprints and the pure modules (contract, engine, render, protocol).

Services hold the database work and call the pure modules; they never parse HTTP and never
contain scoring rules.
"""
