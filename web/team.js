// The team views (banks, orders, evidence, ...): written in team.js by its own change.
