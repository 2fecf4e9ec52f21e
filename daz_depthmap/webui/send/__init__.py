"""The send blocks under the tab's outputs: Send to ControlNet, the canvas set, Regional Prompter."""
