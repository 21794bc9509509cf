//! Bundled word lists: common given names and surnames in Switzerland, Germany, Austria, France,
//! Italy and English-speaking countries, and towns used to confirm "postcode + town" addresses.
//!
//! Source and licence: compiled by hand for auditgate from general knowledge of frequent names
//! (no third-party list copied); part of auditgate, Apache-2.0. Names that are also frequent
//! ordinary words in one of the four languages (Will, Mark, Rose, May, Paris, ...) are left out
//! on purpose: they cost precision and a cue word still finds them.

/// Given names (natural case; matching folds ASCII case only, so accented initials stay as written).
pub const GIVEN_NAMES: &[&str] = &[
    // German / Swiss German / Austrian
    "Andreas", "Anna", "Anja", "Annette", "Barbara", "Beat", "Bernhard", "Bettina", "Brigitte",
    "Bruno", "Carmen", "Christa", "Christian", "Christine", "Christoph", "Claudia", "Cornelia",
    "Daniel", "Daniela", "Dieter", "Doris", "Elisabeth", "Erich", "Erika", "Ernst", "Esther",
    "Fabian", "Felix", "Florian", "Franziska", "Fritz", "Gabriela", "Gabriele", "Georg", "Gerhard",
    "Gertrud", "Gregor", "Hannes", "Hans", "Hansjörg", "Hanspeter", "Heidi", "Heinz", "Helga",
    "Helmut", "Hermann", "Ingrid", "Jakob", "Jan", "Jana", "Jasmin", "Johanna", "Johannes",
    "Jonas", "Jürg", "Jörg", "Karin", "Karl", "Katharina", "Kathrin", "Klaus", "Kurt", "Lea",
    "Leon", "Lukas", "Manfred", "Manuela", "Marcel", "Margrit", "Markus", "Marlies", "Martin",
    "Martina", "Matthias", "Max", "Monika", "Nadine", "Niklaus", "Nicole", "Noah", "Otto",
    "Patrick", "Peter", "Petra", "Philipp", "Rahel", "Regula", "Reto", "Rolf", "Ruedi", "Ruth",
    "Sabine", "Sandra", "Silvia", "Simone", "Stefan", "Stefanie", "Susanne", "Thomas", "Tobias",
    "Ueli", "Urs", "Ursula", "Ulrich", "Uwe", "Verena", "Werner", "Walter", "Wolfgang", "Yvonne",
    "Zoe", "Lena", "Mia", "Emma", "Lina", "Elias", "Luca", "Levin", "Nina", "Sven", "Dominik",
    "Severin", "Silvan", "Corinne", "Irene", "Renate", "Jürgen", "Sebastian", "Benjamin",
    "Alexander", "Alexandra", "Michael", "Michaela", "Katrin", "Ramona", "Tanja", "Sarah", "Laura",
    "Julia", "Lara", "Leonie", "Melanie", "Vanessa", "Simon", "David", "Samuel", "Raphael",
    "Adrian", "Pascal", "Remo", "Marc", "Roger", "Roland", "Rudolf", "Heinrich", "Friedrich",
    // French
    "Alain", "Amélie", "Anne", "Antoine", "Aurélie", "Bernard", "Camille", "Catherine", "Céline",
    "Chantal", "Charlotte", "Christophe", "Claire", "Clément", "Corinne", "Damien",
    "Delphine", "Didier", "Dominique", "Élodie", "Émilie", "Éric", "Étienne", "Fabienne",
    "Florence", "François", "Françoise", "Frédéric", "Gilles", "Guillaume", "Hélène", "Hugo",
    "Isabelle", "Jacques", "Jean", "Jean-Claude", "Jean-Luc", "Jean-Marc", "Jean-Pierre",
    "Jean-Paul", "Jérôme", "Joël", "Julien", "Laurent", "Louis", "Luc", "Lucie", "Manon",
    "Marie", "Marie-Claire", "Marine", "Mathieu", "Maxime", "Michel", "Michèle", "Monique",
    "Mathilde", "Nathalie", "Nicolas", "Olivier", "Pascale", "Philippe", "Pierre", "Raphaël",
    "Sandrine", "Sébastien", "Sophie", "Stéphane", "Sylvie", "Thierry", "Valérie", "Véronique",
    "Vincent", "Yves", "Léa", "Chloé", "Inès", "Théo", "Benoît", "Gaëlle", "Margaux", "Pauline",
    "Romain", "Thibault", "Arnaud", "Cédric", "Grégoire", "Léon", "Agnès", "Odile", "Josiane",
    // Italian
    "Alessandro", "Alessandra", "Andrea", "Angela", "Antonio", "Antonella", "Carlo", "Chiara",
    "Cristina", "Davide", "Elena", "Emanuele", "Federica", "Federico", "Francesca", "Francesco",
    "Gabriele", "Giacomo", "Gianluca", "Giorgio", "Giovanna", "Giovanni", "Giulia", "Giuseppe",
    "Lorenzo", "Luigi", "Marco", "Maria", "Mario", "Massimo", "Matteo", "Michele", "Paola",
    "Paolo", "Riccardo", "Roberta", "Roberto", "Salvatore", "Sara", "Serena", "Silvio",
    "Simona", "Stefano", "Valentina", "Vincenzo", "Alberto", "Elisa", "Fabio", "Filippo",
    "Gianni", "Ilaria", "Lucia", "Luisa", "Manuel", "Martino", "Nicola", "Pietro", "Rosa",
    "Sergio", "Tiziana", "Claudio", "Daniele", "Enrico", "Fabrizio", "Giorgia", "Beatrice",
    "Aurora", "Alessia", "Ottavio", "Renato", "Ugo", "Vittoria", "Carla",
    // English
    "Alice", "Amanda", "Amy", "Andrew", "Anthony", "Benjamin", "Charles", "Daniel", "Deborah",
    "Edward", "Eleanor", "Elizabeth", "Emily", "Emma", "George", "Hannah", "Harry", "Helen",
    "Henry", "Jack", "James", "Jane", "Jennifer", "Jessica", "John", "Jonathan", "Joseph",
    "Karen", "Katherine", "Kevin", "Linda", "Lucy", "Margaret", "Mary", "Matthew", "Michelle",
    "Nancy", "Oliver", "Olivia", "Patricia", "Paul", "Rachel", "Rebecca", "Richard", "Robert",
    "Samantha", "Sophia", "Stephen", "Steven", "Susan", "Timothy", "William", "Charlotte",
    "Emily", "Thomas", "Christopher", "Elizabeth", "Sarah", "Laura", "Natalie", "Peter",
    "Victoria", "Jessica", "Megan", "Chloe", "Ethan", "Liam", "Noah", "Lucas",
];

/// Surnames frequent in the same countries.
pub const SURNAMES: &[&str] = &[
    // Swiss / German / Austrian
    "Müller", "Mueller", "Meier", "Meyer", "Maier", "Mayer", "Schmid", "Schmidt", "Keller",
    "Weber", "Huber", "Schneider", "Steiner", "Fischer", "Gerber", "Brunner", "Baumann", "Frei",
    "Zimmermann", "Moser", "Widmer", "Wyss", "Graf", "Roth", "Baumgartner", "Suter", "Bühler",
    "Hofmann", "Wagner", "Becker", "Schulz", "Koch", "Bauer", "Richter", "Klein", "Wolf",
    "Schröder", "Neumann", "Schwarz", "Braun", "Hofer", "Lehmann", "Kaufmann", "Marti",
    "Kälin", "Bachmann", "Frey", "Sutter", "Egli", "Ammann", "Lüthi", "Hess", "Vogel", "Schuler",
    "Zürcher", "Gasser", "Kunz", "Wenger", "Fuchs", "Graber", "Rüegg", "Stucki", "Bucher",
    "Hartmann", "Krüger", "Werner", "Lang", "Peters", "Schäfer", "Jung", "Hahn", "Vogt",
    "Friedrich", "Berger", "Pichler", "Gruber", "Wimmer", "Eder", "Leitner", "Holzer",
    "Käser", "Aebischer", "Brändli", "Imhof", "Studer", "Wälti", "Ziegler", "Arnold", "Kuhn",
    "Sommer", "Schenk", "Stalder", "Rüfenacht", "Blaser", "Tanner", "Kessler", "Knecht",
    // French / Romand
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet",
    "François", "Martinez", "Favre", "Rochat", "Perret", "Bonvin", "Rey", "Jaquet", "Cuénod",
    "Pittet", "Chevalley", "Monnier", "Fontaine", "Rousseau", "Blanc", "Guerin", "Muller",
    "Henry", "Roussel", "Nicolet", "Chappuis", "Clerc", "Dufour", "Berthoud", "Maillard",
    "Gilliéron", "Bovet", "Pasche", "Gaillard", "Vuilleumier", "Jeanneret", "Descloux",
    // Italian / Ticinese
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
    "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Costa", "Giordano", "Mancini", "Rizzo",
    "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso",
    "Ferrara", "Galli", "Martini", "Leone", "Longo", "Gentile", "Martinelli", "Vitale",
    "Lombardo", "Serra", "Coppola", "De Santis", "D'Angelo", "Marchetti", "Parisi", "Villa",
    "Conte", "Ferraro", "Ferri", "Fabbri", "Bernasconi", "Pedrazzini", "Rezzonico", "Beffa",
    "Guidotti", "Cattaneo", "Morandi", "Bassi", "Pellegrini", "Testa", "Monti", "Sala",
    // English
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "Moore", "Jackson", "White", "Harris", "Thompson", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill",
    "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Parker",
    "Collins", "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper",
    "Hughes", "Watson", "Wood", "Wright", "Walsh", "O'Brien", "O'Connor", "Kelly", "Ryan",
    "Davies", "Evans", "Patel", "Khan", "Hall", "Bennett", "Fletcher", "Harrison", "Chapman",
];

/// Towns that confirm a bare "postcode town" (without street or country prefix) as an address.
pub const TOWNS: &[&str] = &[
    // Switzerland and Liechtenstein
    "Zürich", "Zurich", "Genève", "Geneva", "Genf", "Basel", "Bern", "Lausanne", "Winterthur",
    "Luzern", "Lucerne", "St. Gallen", "Lugano", "Biel", "Bienne", "Biel/Bienne", "Thun",
    "Köniz", "Fribourg", "Freiburg", "Schaffhausen", "Chur", "Neuchâtel", "Vernier", "Uster",
    "Sion", "Emmen", "Zug", "Yverdon-les-Bains", "Dübendorf", "Kriens", "Rapperswil-Jona",
    "Dietikon", "Montreux", "Frauenfeld", "Wetzikon", "Baar", "Riehen", "Wädenswil", "Aarau",
    "Baden", "Wil", "Kloten", "Allschwil", "Horgen", "Olten", "Solothurn", "Bellinzona",
    "Locarno", "Mendrisio", "Chiasso", "Nyon", "Morges", "Vevey", "Renens", "Carouge",
    "Meyrin", "Onex", "Lancy", "Martigny", "Monthey", "Sierre", "Delémont", "Burgdorf",
    "Langenthal", "Davos", "Küsnacht", "Meilen", "Thalwil", "Wallisellen", "Opfikon",
    "Schlieren", "Bülach", "Pully", "Gland", "Bulle", "Vaduz", "Schaan", "Balzers", "Triesen",
    "Eschen", "Mauren", "Ruggell", "Zollikon", "Cham", "Steinhausen", "Pfäffikon", "Glarus",
    "Herisau", "Appenzell", "Sarnen", "Stans", "Altdorf", "Schwyz", "Liestal", "Muttenz",
    // Germany
    "Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Frankfurt am Main", "Stuttgart",
    "Düsseldorf", "Leipzig", "Dortmund", "Essen", "Bremen", "Dresden", "Hannover", "Nürnberg",
    "Duisburg", "Bochum", "Wuppertal", "Bielefeld", "Bonn", "Münster", "Mannheim", "Karlsruhe",
    "Augsburg", "Wiesbaden", "Mainz", "Kiel", "Aachen", "Heidelberg", "Freiburg im Breisgau",
    "Konstanz", "Lörrach", "Ulm", "Regensburg", "Würzburg", "Potsdam", "Rostock", "Erfurt",
    "Kassel", "Darmstadt", "Saarbrücken", "Lübeck", "Magdeburg", "Halle", "Oldenburg",
    "Osnabrück", "Göttingen", "Trier", "Koblenz", "Ingolstadt", "Jena", "Tübingen", "Passau",
    // Austria
    "Wien", "Vienna", "Graz", "Linz", "Salzburg", "Innsbruck", "Klagenfurt", "Villach", "Wels",
    "St. Pölten", "Dornbirn", "Feldkirch", "Bregenz", "Steyr", "Leoben", "Krems", "Baden bei Wien",
    // France
    "Paris", "Marseille", "Lyon", "Toulouse", "Nice", "Nantes", "Strasbourg", "Montpellier",
    "Bordeaux", "Lille", "Rennes", "Reims", "Toulon", "Grenoble", "Dijon", "Angers", "Nîmes",
    "Annecy", "Annemasse", "Mulhouse", "Colmar", "Besançon", "Metz", "Nancy", "Rouen", "Caen",
    "Orléans", "Tours", "Limoges", "Clermont-Ferrand", "Perpignan", "Avignon", "Chambéry",
    "Thonon-les-Bains", "Évian-les-Bains", "Ferney-Voltaire", "Saint-Julien-en-Genevois",
    "Neuilly-sur-Seine", "Boulogne-Billancourt", "Versailles", "Cannes", "Antibes",
    // Italy
    "Roma", "Milano", "Napoli", "Torino", "Palermo", "Genova", "Bologna", "Firenze", "Bari",
    "Catania", "Venezia", "Verona", "Messina", "Padova", "Trieste", "Brescia", "Parma",
    "Modena", "Reggio Emilia", "Perugia", "Livorno", "Cagliari", "Como", "Varese", "Bergamo",
    "Monza", "Trento", "Bolzano", "Vicenza", "Udine", "Lecco", "Novara", "Aosta", "Pavia",
    "Cremona", "Lucca", "Pisa", "Siena", "Ancona", "Pescara", "Salerno", "Rimini", "Ferrara",
];
