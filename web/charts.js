// SVG charts for the team views: written in charts.js by its own change.
