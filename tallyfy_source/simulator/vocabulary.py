"""The words synthetic records are made of: names, titles, teams, tag words, colours."""

FIRST_NAMES = [
    "Anna", "James", "Maria", "John", "Sofia", "Liam", "Emma", "Noah", "Olivia", "Lucas",
    "Mia", "Ethan", "Ava", "Mateo", "Isabella", "Oliver", "Chloe", "Elijah", "Zoe", "Aarav",
    "Priya", "Wei", "Yuki", "Fatima", "Omar", "Lars", "Ingrid", "Pierre", "Camille", "Giulia",
    "Mary Ann", "Jean Luc", "Ana Maria", "Kofi", "Amara", "Diego", "Hana", "Sven", "Nadia", "Tomás",
]
LAST_NAMES = [
    "Smith", "Johnson", "Garcia", "Müller", "Rossi", "Dubois", "Nowak", "Kim", "Nguyen", "Patel",
    "Brown", "Wilson", "Taylor", "Anderson", "Thomas", "Moore", "Martin", "Lee", "Walker", "Hall",
    "van der Berg", "De La Cruz", "O'Brien", "Al Rashid", "da Silva", "Andersen", "Kowalski",
    "Tanaka", "Okafor", "Schmidt", "Fernández", "Ivanova", "Chen", "Singh", "Cohen", "Larsen",
]
JOB_TITLES = [
    "Accountant", "Operations Manager", "HR Generalist", "Software Engineer", "Sales Executive",
    "Customer Success Manager", "Paralegal", "Procurement Specialist", "Marketing Lead",
    "Office Administrator", "Financial Controller", "Team Lead", "Recruiter", "Project Manager",
    "Compliance Officer", "Support Agent", "Data Analyst", "COO", "Head of People", None,
]
TEAMS = ["Finance", "People", "Engineering", "Sales", "Marketing", "Legal", "Operations",
         "Support", "IT", "Procurement", None]
TIMEZONES = [
    ("Europe/London", "+00:00"), ("Europe/Berlin", "+01:00"), ("America/New_York", "-05:00"),
    ("America/Chicago", "-06:00"), ("America/Los_Angeles", "-08:00"), ("Asia/Kolkata", "+05:30"),
    ("Asia/Tokyo", "+09:00"), ("Australia/Sydney", "+11:00"), ("UTC", "+00:00"),
    ("America/Sao_Paulo", "-03:00"), ("Africa/Lagos", "+01:00"),
]
LOCALES = ["en", "en", "en", "en-GB", "de", "fr", "es", "pt-BR", "ja"]
DATE_FORMATS = ["mm/dd/yyyy", "dd/mm/yyyy", "yyyy-mm-dd"]
COUNTRIES = ["US", "GB", "DE", "FR", "IN", "JP", "AU", "BR", "NG", "ES", "NL", None]

DEPARTMENTS = [
    "Finance", "HR", "Engineering", "Sales", "Marketing", "Legal", "Operations", "Support",
    "IT", "Procurement", "Customer Success", "Compliance", "Facilities", "Payroll", "Product",
    "Quality Assurance", "Security", "Partnerships", "Training", "Onboarding Team",
]
REGIONS = ["EMEA", "APAC", "Americas", "North America", "LATAM", "DACH", "Nordics", "UK", "Benelux"]

TAG_WORDS = [
    "Urgent", "VIP", "Compliance", "Onboarding", "Contract", "Renewal", "Invoice", "Audit",
    "Q1", "Q2", "Q3", "Q4", "High Priority", "Low Priority", "Blocked", "Review", "Legal",
    "Finance", "HR", "Client", "Internal", "External", "Pilot", "Escalation", "Security",
    "GDPR", "SOX", "ISO 27001", "Vendor", "Hiring", "Offboarding", "Expense", "Travel",
]
AUTO_PREFIXES = ["from", "task", "step"]
AUTO_WORDS = [
    "Onboarding", "Review", "Approve", "Sign Off", "Kickoff", "Handover", "Invoice Run",
    "Audit Prep", "Contract Check", "Payroll", "Renewal", "Intake",
]
COLORS = ["#3fb65b", "#e04f5f", "#f5a623", "#4a90e2", "#9013fe", "#50e3c2", "#8b572a",
          "#417505", "#bd10e0", "#7ed321", "#d0021b", "#f8e71c"]
COMPANIES = ["Acme Ltd", "Globex", "Initech", "Umbrella Corp", "Stark Industries", "Wayne Enterprises",
             "Hooli", "Vandelay Industries", "Soylent Co", "Wonka Industries", "Tyrell Corp", None]

# ------------------------------------------------------------------ workflow
TEMPLATE_NAMES = [
    "Employee Onboarding", "Client Onboarding", "Vendor Onboarding", "Employee Offboarding",
    "Invoice Approval", "Expense Claim", "Purchase Request", "Contract Review", "Month-End Close",
    "Quarterly Audit", "Security Incident", "Access Request", "Content Publishing", "Release Checklist",
    "Customer Renewal", "Hiring Pipeline", "Travel Request", "Policy Sign-Off", "Payroll Run",
    "Equipment Request", "GDPR Data Request", "Bug Triage", "Sales Handover", "Grant Application",
]
STEP_TITLES = [
    "Collect details", "Review request", "Approve budget", "Send welcome email", "Create accounts",
    "Order equipment", "Schedule kickoff", "Check compliance", "Sign contract", "Verify documents",
    "Update CRM", "Notify finance", "Book training", "Assign buddy", "Archive records", "Final sign-off",
    "Prepare report", "Legal review", "Manager approval", "Close ticket",
]
STEP_TYPES = ["task", "task", "task", "approval", "expiring", "email"]
FIELD_KINDS = [  # (field_type, label)
    ("text", "Full name"), ("text", "Reference"), ("textarea", "Notes"), ("date", "Start date"),
    ("date", "Due by"), ("dropdown", "Department"), ("multiselect", "Systems needed"),
    ("radio", "Priority"), ("table", "Line items"), ("email", "Contact email"), ("file", "Attachment"),
]
OPTIONS = ["Low", "Medium", "High", "Critical"]
ONEOFF_TITLES = [
    "Call back the client", "Renew the domain", "Check the invoice", "Book the meeting room",
    "Update the price list", "Reply to auditor", "Order coffee beans", "Fix the printer",
    "Send the NDA", "Review the slide deck", "Chase the late payment", "Plan the offsite",
]
COMMENT_TEXTS = {
    "comment": ["Looks good to me.", "Done, see attached.", "Waiting on the client.", "Can someone check this?",
                "Updated the numbers.", "Thanks!"],
    "problem": ["Blocked: missing signature.", "The figures do not add up.", "Client has not replied.",
                "System access denied."],
    "resolve": ["Resolved, signature received.", "Fixed the figures.", "Client replied, moving on."],
    "improvement": ["We could automate this step.", "This step needs a clearer description."],
    "advice": ["Use the new template for this.", "Ask legal before signing."],
}
